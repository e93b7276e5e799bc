// The extension's view of the sessions, fed by the server's notifications and list results;
// the tree view and the status bar render from it.
import * as vscode from "vscode";
import type { AgentStateParams, Session, SyncStatusParams } from "./protocol";
import { applyAgentState, applySyncStatus, currentSession, sortSessions } from "./logic/sessions";

export type ServerState = "starting" | "running" | "stopped";

export class SessionStore implements vscode.Disposable {
  private sessionsValue: Session[] = [];
  private serverStateValue: ServerState = "stopped";
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;

  get sessions(): readonly Session[] {
    return this.sessionsValue;
  }

  get serverState(): ServerState {
    return this.serverStateValue;
  }

  workspacePaths(): string[] {
    return (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === "file").map((f) => f.uri.fsPath);
  }

  sorted(): Session[] {
    return sortSessions(this.sessionsValue, this.workspacePaths());
  }

  current(): Session | undefined {
    return currentSession(this.sessionsValue, this.workspacePaths());
  }

  setServerState(state: ServerState): void {
    this.serverStateValue = state;
    if (state === "stopped") {
      this.sessionsValue = [];
    }
    this.changed.fire();
  }

  replace(sessions: Session[]): void {
    this.sessionsValue = sessions;
    this.changed.fire();
  }

  /** Merges one session returned by a command (start/stop/resume) until the next full list. */
  upsert(session: Session): void {
    const others = this.sessionsValue.filter((s) => s.name !== session.name || s.namespace !== session.namespace);
    this.replace([...others, session]);
  }

  remove(name: string): void {
    this.replace(this.sessionsValue.filter((s) => s.name !== name));
  }

  applySync(p: SyncStatusParams): void {
    this.replace(applySyncStatus(this.sessionsValue, p));
  }

  /** Returns true when the session just started waiting for the user. */
  applyAgent(p: AgentStateParams): boolean {
    const r = applyAgentState(this.sessionsValue, p);
    this.replace(r.sessions);
    return r.becameWaiting;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
