import type { Session } from "../src/protocol";

export function session(over: Partial<Session> & { name: string }): Session {
  return {
    namespace: "dev",
    context: "kind-dev",
    status: "Running",
    reason: null,
    image: "ghcr.io/kodama-dev/agent:latest",
    branch: `kodama/${over.name}`,
    baseBranch: "main",
    baseCommit: "3f2c",
    repo: null,
    localPath: null,
    createdAt: "2026-11-27T10:00:00Z",
    agent: { state: "working", message: null, since: "2026-11-27T10:01:00Z", exitCode: null },
    sync: null,
    ...over,
  };
}
