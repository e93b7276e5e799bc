// Types and names of the kodama-lsp protocol (docs/lsp-protocol.md). No `vscode` import:
// the pure modules and their unit tests use these too. Enumerations are the documented
// values; the code renders an unknown value as it comes rather than failing.

export type SessionStatus = "Pending" | "Starting" | "Running" | "Stopped" | "Failed";
export type AgentStateName = "unknown" | "starting" | "working" | "waiting" | "idle" | "exited";
/** kodama/models.py SyncState; docs/lsp-protocol.md says what each means. */
export type SyncStateName =
  | "off"
  | "stopped"
  | "unavailable"
  | "paused"
  | "disconnected"
  | "connecting"
  | "scanning"
  | "reconciling"
  | "staging"
  | "transitioning"
  | "saving"
  | "watching"
  | "halted"
  | "unknown";

/** Verbs a session offers (`display.actions`), in menu order. */
export type SessionActionName = "attach" | "logs" | "fetch" | "sync" | "stop" | "resume" | "delete";

/** How the server words a session (kodama/present.py); shown as given. */
export interface SessionDisplay {
  status: string;
  age: string;
  agent: string;
  /** `agent` without its duration; the client ticks the duration from agentSince (absent: an older server). */
  agentLabel?: string;
  agentSince?: string | null;
  sync: string;
  actions: SessionActionName[];
  detail: string[];
}

export interface AgentInfo {
  state: AgentStateName;
  message?: string | null;
  since?: string | null;
  exitCode?: number | null;
}

export interface SyncStatus {
  name: string;
  state: SyncStateName;
  connected: boolean;
  lastError?: string | null;
  conflicts?: { path: string }[];
  mutagenSession?: string | null;
  /** On kodama.sync.* results: the sync cell and the sync lines of a session's details. */
  display?: { summary: string; detail: string[] };
}

export interface Session {
  name: string;
  namespace: string;
  context?: string | null;
  status: SessionStatus;
  reason?: string | null;
  image?: string | null;
  branch?: string | null;
  baseBranch?: string | null;
  baseCommit?: string | null;
  repo?: string | null;
  localPath?: string | null;
  createdAt?: string | null;
  /** The fan-out (`start NAME --count N`) this session belongs to. */
  family?: string | null;
  agent?: AgentInfo | null;
  sync?: SyncStatus | null;
  /** Absent only from a server older than the display object. */
  display?: SessionDisplay;
}

export interface FetchResult {
  branch: string;
  commit: string;
  ahead: number;
  display?: { summary: string };
}

export interface AttachResult {
  argv: string[];
  opened: boolean;
}

/** `kodama.session.logs` without `follow`: the rendered log (the CLI's `logs` output). */
export interface LogsResult {
  name: string;
  text: string;
  lines: number;
}

/** `kodama.sync.push` / `kodama.sync.pull`. */
export interface CopyResult {
  name: string;
  files: number;
}

/** `kodama.config.view`: the merged configuration as YAML and the files it came from. */
export interface ConfigView {
  text: string;
  sources: string[];
}

/** `kodama.rbac.show`: the Role (and RoleBindings) as `kubectl kodama rbac` prints them. */
export interface RbacView {
  text: string;
  namespace: string;
}

export interface OpenTerminalParams {
  title: string;
  argv: string[];
  cwd?: string | null;
}

export interface SessionsChangedParams {
  sessions: Session[];
}

export interface SyncStatusParams {
  name: string;
  status: SyncStatus;
}

export interface AgentStateParams {
  name: string;
  namespace: string;
  state: AgentStateName;
  message?: string | null;
  since?: string | null;
  exitCode?: number | null;
}

export interface InitializationOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  refreshInterval?: number;
}

/** Server command IDs (`workspace/executeCommand`). Palette IDs are in PaletteCommand. */
export const ServerCommand = {
  suggestName: "kodama.session.suggestName",
  checkName: "kodama.session.checkName",
  start: "kodama.session.start",
  list: "kodama.session.list",
  get: "kodama.session.get",
  stop: "kodama.session.stop",
  resume: "kodama.session.resume",
  delete: "kodama.session.delete",
  attach: "kodama.session.attach",
  fetch: "kodama.session.fetch",
  logs: "kodama.session.logs",
  wait: "kodama.session.wait",
  syncStatus: "kodama.sync.status",
  syncStart: "kodama.sync.start",
  syncStop: "kodama.sync.stop",
  syncFlush: "kodama.sync.flush",
  syncPause: "kodama.sync.pause",
  syncResume: "kodama.sync.resume",
  syncPush: "kodama.sync.push",
  syncPull: "kodama.sync.pull",
  configView: "kodama.config.view",
  rbacShow: "kodama.rbac.show",
} as const;

/** Editor-side command IDs, deliberately different from the server's. */
export const PaletteCommand = {
  start: "kodama.startSession",
  attach: "kodama.attachSession",
  syncStatus: "kodama.syncStatus",
  stop: "kodama.stopSession",
  resume: "kodama.resumeSession",
  delete: "kodama.deleteSession",
  fetch: "kodama.fetchSession",
  list: "kodama.listSessions",
  restart: "kodama.restartServer",
  showOutput: "kodama.showOutput",
  refresh: "kodama.refreshSessions",
  details: "kodama.sessionDetails",
  logs: "kodama.showLogs",
  followLogs: "kodama.followLogs",
  wait: "kodama.waitForAgent",
  syncPause: "kodama.syncPause",
  syncResume: "kodama.syncResume",
  syncPush: "kodama.syncPush",
  syncPull: "kodama.syncPull",
  configView: "kodama.viewConfig",
  rbac: "kodama.showRbac",
  refreshDocument: "kodama.refreshDocument",
} as const;

export const Method = {
  openTerminal: "kodama/openTerminal",
  sessionsChanged: "kodama/sessionsChanged",
  syncStatus: "kodama/syncStatus",
  agentState: "kodama/agentState",
} as const;
