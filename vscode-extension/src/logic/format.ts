// Every user-visible string about a session (status bar, tree view, pickers, messages). Pure.
import type { FetchResult, Session, SyncStatus } from "../protocol";
import { isWaiting } from "./sessions";

/** Compact age like kubectl's: 45s, 12m, 3h, 2d. Empty when unknown. */
export function formatAge(createdAt: string | null | undefined, now: number): string {
  if (!createdAt) {
    return "";
  }
  const t = Date.parse(createdAt);
  if (Number.isNaN(t)) {
    return "";
  }
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 60) {
    return `${s}s`;
  }
  const m = Math.floor(s / 60);
  if (m < 60) {
    return `${m}m`;
  }
  const h = Math.floor(m / 60);
  if (h < 48) {
    return `${h}h`;
  }
  return `${Math.floor(h / 24)}d`;
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

export function syncSummary(sync: SyncStatus | null | undefined): string {
  if (!sync) {
    return "not syncing";
  }
  if (sync.state === "error" || sync.lastError) {
    return sync.lastError ? `sync error: ${sync.lastError}` : "sync error";
  }
  const conflicts = sync.conflicts?.length ?? 0;
  const base = sync.connected || sync.state === "none" ? `sync ${sync.state}` : `sync ${sync.state} (disconnected)`;
  return conflicts > 0 ? `${base}, ${conflicts} conflict${conflicts === 1 ? "" : "s"}` : base;
}

/** The status text: "Running", "Failed: reason", "Running, waiting". */
export function statusText(s: Session): string {
  const status = s.status === "Failed" && s.reason ? `Failed: ${s.reason}` : s.status;
  return isWaiting(s) ? `${status}, waiting for you` : status;
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
  const parts = [`$(${sessionIcon(s)}) ${s.name}: ${isWaiting(s) ? "waiting" : s.status}`];
  if (s.sync) {
    parts.push(syncSummary(s.sync).replace(/^sync error: .*/, "sync error"));
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
  return [`Kodama session ${s.name}`, ...sessionDetailLines(s, Date.now()), "", "Click for actions."].join("\n");
}

/** Tree item description: "Running · kodama/fix-login · 5m". */
export function treeDescription(s: Session, now: number): string {
  const parts = [isWaiting(s) ? "waiting" : s.status];
  if (s.branch) {
    parts.push(s.branch);
  }
  const age = formatAge(s.createdAt, now);
  if (age) {
    parts.push(age);
  }
  return parts.join(" · ");
}

/** contextValue of a tree item, matched by the `view/item/context` menus in package.json. */
export function treeContextValue(s: Session): string {
  return `kodamaSession.${String(s.status).toLowerCase()}${isWaiting(s) ? ".waiting" : ""}`;
}

export function sessionDetailLines(s: Session, now: number): string[] {
  const lines = [`Status: ${statusText(s)}`];
  if (s.agent) {
    const msg = s.agent.message ? `: ${s.agent.message}` : "";
    lines.push(`Agent: ${s.agent.state}${msg}`);
  }
  if (s.branch) {
    lines.push(`Branch: ${s.branch}${s.baseBranch ? ` (from ${s.baseBranch})` : ""}`);
  }
  lines.push(`Sync: ${syncSummary(s.sync)}`);
  lines.push(`Namespace: ${s.namespace}${s.context ? ` (context ${s.context})` : ""}`);
  if (s.image) {
    lines.push(`Image: ${s.image}`);
  }
  if (s.localPath) {
    lines.push(`Local path: ${s.localPath}`);
  }
  if (s.repo) {
    lines.push(`Repository: ${s.repo}`);
  }
  const age = formatAge(s.createdAt, now);
  if (age) {
    lines.push(`Age: ${age}`);
  }
  return lines;
}

export function fetchMessage(name: string, r: FetchResult): string {
  const commit = r.commit ? r.commit.slice(0, 12) : "?";
  const ahead = r.ahead === 1 ? "1 commit" : `${r.ahead} commits`;
  return `Fetched ${r.branch} from session ${name} at ${commit} (${ahead} ahead of its base).`;
}

export function waitingMessage(name: string, message: string | null | undefined): string {
  return `Session ${name} is waiting for you${message ? `: ${message}` : "."}`;
}

export function quickPickDetail(s: Session, now: number): string {
  return [treeDescription(s, now), syncSummary(s.sync), s.localPath ?? ""].filter(Boolean).join(" · ");
}
