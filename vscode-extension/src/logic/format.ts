// Every user-visible string about a session (status bar, tree view, pickers, messages). Pure.
import type { FetchResult, Session, SessionDisplay, SyncStatus } from "../protocol";
import { isWaiting } from "./sessions";

/**
 * The age the tree ticks between refreshes (the server's `display.age` is as of its last
 * notification). The rule is kodama/present.py's age, pinned by tests/fixtures/presentation.json:
 * 45s under two minutes, 90m under three hours, 5h under two days, then 4d; "-" when unknown.
 */
export function formatAge(createdAt: string | null | undefined, now: number): string {
  const t = createdAt ? Date.parse(createdAt) : NaN;
  if (Number.isNaN(t)) {
    return "-";
  }
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) {
    return `${s}s`;
  }
  if (s < 3 * 3600) {
    return `${Math.floor(s / 60)}m`;
  }
  if (s < 48 * 3600) {
    return `${Math.floor(s / 3600)}h`;
  }
  return `${Math.floor(s / 86400)}d`;
}

/**
 * The agent cell, its duration ticked like the age: the server's `agentLabel` and the age of
 * `agentSince` (its `agent` is as of its last notification). Pinned by the golden fixture.
 */
export function agentCell(d: SessionDisplay, now: number): string {
  if (d.agentLabel === undefined) {
    return d.agent; // a server that does not send the label
  }
  return d.agentSince ? `${d.agentLabel} ${formatAge(d.agentSince, now)}` : d.agentLabel;
}

function counts(sessions: readonly Session[]): { running: number; waiting: number } {
  return {
    running: sessions.filter((s) => s.status === "Running").length,
    waiting: sessions.filter(isWaiting).length,
  };
}

/** "2 running, 1 waiting" ("" when nothing runs or waits): kodama/present.py sessions_summary. */
export function sessionsSummary(sessions: readonly Session[]): string {
  const { running, waiting } = counts(sessions);
  if (running === 0 && waiting === 0) {
    return "";
  }
  return `${running} running${waiting ? `, ${waiting} waiting` : ""}`;
}

/** A fan-out's tree row: "fan-out · 3 sessions · 2 running" (kodama/present.py family_summary). */
export function familySummary(sessions: readonly Session[]): string {
  const n = sessions.length;
  return `fan-out · ${n} ${n === 1 ? "session" : "sessions"} · ${counts(sessions).running} running`;
}

/** The server's words for a session; a bare stand-in if a server too old to send them. */
export function display(s: Session): SessionDisplay {
  return (
    s.display ?? {
      status: s.status,
      age: formatAge(s.createdAt, Date.now()),
      agent: s.agent?.state ?? "-",
      sync: s.sync?.state ?? "off",
      actions: [],
      detail: [],
    }
  );
}

/** Codicon name for a session: waiting wins over status because it needs the user. */
export function sessionIcon(s: Session): string {
  if (isWaiting(s)) {
    return "bell-dot";
  }
  switch (s.status) {
    case "Running":
      return "vm-running";
    case "Pending":
    case "Starting":
      return "loading~spin";
    case "Stopped":
      return "vm-outline";
    case "Failed":
      return "error";
    default:
      return "question";
  }
}

/** A SyncStatus result's summary, as the server words it. */
export function syncSummary(sync: SyncStatus): string {
  return sync.display?.summary ?? sync.state;
}

export function statusBarText(s: Session | undefined, serverState: "running" | "starting" | "stopped"): string {
  if (serverState === "starting") {
    return "$(loading~spin) Kodama";
  }
  if (serverState === "stopped") {
    return "$(circle-slash) Kodama";
  }
  if (!s) {
    return "$(cloud) Kodama";
  }
  // The bar is narrow: the status word without its reason, the sync cell when syncing.
  const parts = [`$(${sessionIcon(s)}) ${s.name}: ${isWaiting(s) ? "waiting" : s.status}`];
  if (s.sync) {
    parts.push(`sync ${display(s).sync}`);
  }
  return parts.join(" · ");
}

export function statusBarTooltip(s: Session | undefined, serverState: "running" | "starting" | "stopped"): string {
  if (serverState === "stopped") {
    return "Kodama: the language server is not running (see the Kodama output).";
  }
  if (serverState === "starting") {
    return "Kodama: starting kodama-lsp…";
  }
  if (!s) {
    return "Kodama: no session. Click to list sessions.";
  }
  return [`Kodama session ${s.name}`, ...sessionDetailLines(s), "", "Click for actions."].join("\n");
}

/** Tree item description: "Running · kodama/fix-login · 5m", the agent's state when it waits. */
export function treeDescription(s: Session, now: number): string {
  const d = display(s);
  const parts = [d.status];
  if (isWaiting(s)) {
    parts.push(agentCell(d, now));
  }
  if (s.branch) {
    parts.push(s.branch);
  }
  const age = formatAge(s.createdAt, now);
  if (age !== "-") {
    parts.push(age);
  }
  return parts.join(" · ");
}

/**
 * contextValue of a tree item: the session's `display.actions`, each between colons, so the
 * `view/item/context` menus of package.json match `viewItem =~ /^kodamaSession.*:attach:/`.
 */
export function treeContextValue(s: Session): string {
  return `kodamaSession:${display(s).actions.join(":")}:${isWaiting(s) ? "waiting:" : ""}`;
}

/** The session's details as the server words them (`kubectl kodama get NAME`). */
export function sessionDetailLines(s: Session): string[] {
  return display(s).detail;
}

export function fetchMessage(name: string, r: FetchResult): string {
  if (r.display) {
    return r.display.summary;
  }
  const commit = r.commit ? r.commit.slice(0, 12) : "?";
  const ahead = r.ahead === 1 ? "1 commit" : `${r.ahead} commits`;
  return `Fetched ${r.branch} from session ${name} at ${commit} (${ahead} ahead of its base).`;
}

export function waitingMessage(name: string, message: string | null | undefined): string {
  return `Session ${name} is waiting for you${message ? `: ${message}` : "."}`;
}

export function quickPickDetail(s: Session, now: number): string {
  const d = display(s);
  const cell = agentCell(d, now);
  const agent = cell !== "-" ? `agent ${cell}` : "";
  return [treeDescription(s, now), agent, `sync ${d.sync}`, s.localPath ?? ""].filter(Boolean).join(" · ");
}
