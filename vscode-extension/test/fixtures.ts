import * as fs from "node:fs";
import * as path from "node:path";
import type { AgentStateName, Session, SessionDisplay } from "../src/protocol";

export interface Golden {
  now: string;
  later: string;
  age: { createdAt: string | null; age: string }[];
  ageUnparsable: string[];
  sessionName: { maxLength: number; cases: { name: string; valid: boolean; problem: string | null }[] };
  sessions: { case: string; session: Session; display: SessionDisplay; agentLater: string }[];
  summaries: { sessions: { status: Session["status"]; agent: AgentStateName }[]; summary: string; family: string }[];
}

/** tests/fixtures/presentation.json: the golden cases kodama/present.py and Neovim's tests read too. */
function goldenPath(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const p = path.join(dir, "tests", "fixtures", "presentation.json");
    if (fs.existsSync(p)) {
      return p;
    }
    if (path.dirname(dir) === dir) {
      throw new Error(`tests/fixtures/presentation.json not found above ${__dirname}`);
    }
  }
}

export const golden: Golden = JSON.parse(fs.readFileSync(goldenPath(), "utf8")) as Golden;

/** The server's display of a golden session in the same status (for tests about other things). */
function displayLike(status: string): SessionDisplay {
  const found = golden.sessions.find((c) => c.session.status === status);
  if (!found) {
    throw new Error(`no golden session with status ${status}`);
  }
  return found.display;
}

export function session(over: Partial<Session> & { name: string }): Session {
  const s: Session = {
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
  return { display: displayLike(s.status), ...s };
}
