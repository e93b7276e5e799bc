// Session bookkeeping shared by the tree view, the status bar and the pickers. Pure.
import * as path from "node:path";
import type { AgentStateParams, Session, SyncStatusParams } from "../protocol";

export type SessionAction =
  | "attach"
  | "stop"
  | "resume"
  | "delete"
  | "fetch"
  | "syncStatus"
  | "details"
  | "logs"
  | "wait"
  | "sync";

function normalize(p: string): string {
  const n = path.resolve(p);
  return n.length > 1 && n.endsWith(path.sep) ? n.slice(0, -1) : n;
}

/** True when a workspace folder is the session's local repository or lies inside it. */
export function belongsToWorkspace(session: Session, workspacePaths: readonly string[]): boolean {
  if (!session.localPath) {
    return false;
  }
  const local = normalize(session.localPath);
  return workspacePaths.some((w) => {
    const ws = normalize(w);
    return ws === local || ws.startsWith(local + path.sep);
  });
}

function createdMillis(s: Session): number {
  const t = s.createdAt ? Date.parse(s.createdAt) : NaN;
  return Number.isNaN(t) ? 0 : t;
}

/** Sessions of this workspace first, then newest first, then by name for a stable order. */
export function sortSessions(sessions: readonly Session[], workspacePaths: readonly string[]): Session[] {
  return [...sessions].sort((a, b) => {
    const wa = belongsToWorkspace(a, workspacePaths) ? 0 : 1;
    const wb = belongsToWorkspace(b, workspacePaths) ? 0 : 1;
    if (wa !== wb) {
      return wa - wb;
    }
    const age = createdMillis(b) - createdMillis(a);
    return age !== 0 ? age : a.name.localeCompare(b.name);
  });
}

/** A row of the tree: a session on its own, or a fan-out's family with its sessions. */
export type SessionGroup = { family: null; session: Session } | { family: string; sessions: Session[] };

/**
 * The tree's top level: the sessions in `sorted` order, except that the sessions of a fan-out
 * sit under one family row, placed where its first session would be.
 */
export function groupByFamily(sorted: readonly Session[]): SessionGroup[] {
  const out: SessionGroup[] = [];
  const families = new Map<string, Session[]>();
  for (const s of sorted) {
    if (!s.family) {
      out.push({ family: null, session: s });
      continue;
    }
    const key = `${s.namespace}/${s.family}`;
    let members = families.get(key);
    if (!members) {
      members = [];
      families.set(key, members);
      out.push({ family: s.family, sessions: members });
    }
    members.push(s);
  }
  for (const members of families.values()) {
    members.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  }
  return out;
}

/** The session the status bar shows: this workspace's newest, else the newest of all. */
export function currentSession(sessions: readonly Session[], workspacePaths: readonly string[]): Session | undefined {
  return sortSessions(sessions, workspacePaths)[0];
}

/** Sessions an action makes sense for, in picker order. */
export function sessionsForAction(
  action: SessionAction,
  sessions: readonly Session[],
  workspacePaths: readonly string[],
): Session[] {
  // The server says which verbs apply in which status (display.actions); details always apply,
  // and so does wait (it outlasts a restart of the pod).
  const verb = action === "syncStatus" ? "sync" : action;
  const ok = (s: Session): boolean =>
    verb === "details" || verb === "wait" || ((s.display?.actions ?? []) as readonly string[]).includes(verb);
  return sortSessions(sessions.filter(ok), workspacePaths);
}

export function applySyncStatus(sessions: readonly Session[], p: SyncStatusParams): Session[] {
  return sessions.map((s) => (s.name === p.name ? { ...s, sync: p.status } : s));
}

/** Applies an agent-state notification; `becameWaiting` is true on the transition into `waiting`. */
export function applyAgentState(
  sessions: readonly Session[],
  p: AgentStateParams,
): { sessions: Session[]; becameWaiting: boolean } {
  // A session not listed yet still counts: the prompt must not depend on refresh timing.
  let becameWaiting = p.state === "waiting" && !sessions.some((s) => s.name === p.name);
  const updated = sessions.map((s) => {
    if (s.name !== p.name || (p.namespace && s.namespace && s.namespace !== p.namespace)) {
      return s;
    }
    if (p.state === "waiting" && s.agent?.state !== "waiting") {
      becameWaiting = true;
    }
    return {
      ...s,
      agent: { state: p.state, message: p.message ?? null, since: p.since ?? null, exitCode: p.exitCode ?? null },
    };
  });
  return { sessions: updated, becameWaiting };
}

export function isWaiting(s: Session): boolean {
  return s.agent?.state === "waiting";
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** kodama/validation.py MAX_SESSION_NAME, pinned by tests/fixtures/presentation.json. */
export const MAX_SESSION_NAME = 40;

/** The input box's check, the engine's rule (the server checks again). */
export function validateSessionName(name: string): string | undefined {
  if (!name) {
    return "Enter a session name.";
  }
  if (name.length > MAX_SESSION_NAME) {
    return `At most ${MAX_SESSION_NAME} characters.`;
  }
  if (!DNS1123_LABEL.test(name)) {
    return "Lowercase letters, digits and '-', starting and ending with a letter or digit.";
  }
  return undefined;
}

/**
 * The session name a command was invoked with: a string (from another extension or a
 * keybinding), `{name}`, or a tree node carrying `{session: {name}}`. Undefined means "ask".
 */
export function sessionNameFromArg(arg: unknown): string | undefined {
  if (typeof arg === "string" && arg) {
    return arg;
  }
  if (arg && typeof arg === "object") {
    const o = arg as { name?: unknown; session?: { name?: unknown } };
    if (typeof o.name === "string" && o.name) {
      return o.name;
    }
    if (o.session && typeof o.session.name === "string" && o.session.name) {
      return o.session.name;
    }
  }
  return undefined;
}
