// Palette commands. Each one picks its session (from the argument or a quick pick), calls one
// server command and reports the result; failures show the server's one-line message.
import * as vscode from "vscode";
import type { KodamaServer } from "./client";
import {
  type AttachResult,
  type FetchResult,
  PaletteCommand,
  type Session,
  type SessionActionName,
  ServerCommand,
  type SyncStatus,
} from "./protocol";
import { display, fetchMessage, quickPickDetail, sessionDetailLines, sessionIcon, syncSummary, treeDescription, waitingMessage } from "./logic/format";
import { type SessionAction, sessionNameFromArg, sessionsForAction } from "./logic/sessions";
import type { SessionStore } from "./store";
import { askStartChoices } from "./startFlow";
import { openTerminal } from "./terminal";
import { KodamaDocuments } from "./documents";
import { VerbCommands } from "./verbs";

const NOTHING_TO: Record<SessionAction, string> = {
  attach: "No running Kodama session to attach to.",
  stop: "No Kodama session to stop.",
  resume: "No stopped Kodama session to resume.",
  delete: "No Kodama session to delete.",
  fetch: "No Kodama session to fetch from.",
  syncStatus: "No Kodama session.",
  details: "No Kodama session.",
  logs: "No running Kodama session to read the log of.",
  wait: "No Kodama session to wait for.",
  sync: "No running Kodama session to sync.",
};

export class Commands {
  constructor(
    private readonly server: KodamaServer,
    private readonly store: SessionStore,
  ) {}

  register(): vscode.Disposable[] {
    const reg = (id: string, fn: (arg?: unknown) => Promise<unknown>): vscode.Disposable =>
      vscode.commands.registerCommand(id, async (arg?: unknown) => {
        try {
          await fn(arg);
        } catch (err) {
          this.server.reportError(err);
        }
      });
    const docs = new KodamaDocuments(this.server);
    return [
      reg(PaletteCommand.start, () => this.start()),
      reg(PaletteCommand.attach, (a) => this.attach(a)),
      reg(PaletteCommand.syncStatus, (a) => this.syncStatus(a)),
      reg(PaletteCommand.stop, (a) => this.lifecycle(a, "stop")),
      reg(PaletteCommand.resume, (a) => this.lifecycle(a, "resume")),
      reg(PaletteCommand.delete, (a) => this.delete(a)),
      reg(PaletteCommand.fetch, (a) => this.fetch(a)),
      reg(PaletteCommand.list, () => this.list()),
      reg(PaletteCommand.details, (a) => this.details(a)),
      reg(PaletteCommand.refresh, () => this.server.refresh(true)),
      reg(PaletteCommand.restart, () => this.restart()),
      reg(PaletteCommand.showOutput, () => Promise.resolve(this.server.output.show())),
      docs,
      docs.register(),
      ...new VerbCommands(this.server, this.store, (a, action, placeHolder) => this.pick(a, action, placeHolder), docs).register(reg),
    ];
  }

  private async workspaceRoot(): Promise<string | undefined> {
    const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === "file");
    if (folders.length <= 1) {
      return folders[0]?.uri.fsPath;
    }
    const picked = await vscode.window.showWorkspaceFolderPick({ placeHolder: "Repository to start a Kodama session for" });
    return picked?.uri.fsPath;
  }

  async start(): Promise<void> {
    const root = await this.workspaceRoot();
    if (!root) {
      void vscode.window.showErrorMessage("Kodama: open a folder (a git repository) to start a session for it.");
      return;
    }
    const args = await askStartChoices(this.server, root);
    if (!args) {
      return;
    }
    const session = await this.server.executeWithProgress<Session | null>(
      `Kodama: starting session ${args.name}`,
      ServerCommand.start,
      args,
    );
    if (!session) {
      return; // the user declined the repository's settings the server asked about
    }
    this.store.upsert(session);
    const choice = await vscode.window.showInformationMessage(
      `Kodama session ${session.name} is ${session.status}.`,
      "Attach",
    );
    if (choice === "Attach") {
      await this.attach(session.name);
    }
  }

  /** Name from the argument, else a quick pick over the sessions the action applies to. */
  async pick(arg: unknown, action: SessionAction, placeHolder: string): Promise<string | undefined> {
    const given = sessionNameFromArg(arg);
    if (given) {
      return given;
    }
    await this.server.refresh(true);
    const candidates = sessionsForAction(action, this.store.sessions, this.store.workspacePaths());
    if (candidates.length === 0) {
      void vscode.window.showInformationMessage(NOTHING_TO[action]);
      return undefined;
    }
    const now = Date.now();
    const picked = await vscode.window.showQuickPick(
      candidates.map((s) => ({
        label: `$(${sessionIcon(s).replace("~spin", "")}) ${s.name}`,
        description: treeDescription(s, now),
        detail: quickPickDetail(s, now),
        name: s.name,
      })),
      { placeHolder, matchOnDescription: true },
    );
    return picked?.name;
  }

  async attach(arg?: unknown): Promise<void> {
    const name = await this.pick(arg, "attach", "Session to attach to");
    if (!name) {
      return;
    }
    const r = await this.server.execute<AttachResult>(ServerCommand.attach, { name });
    // The server opened it through kodama/openTerminal; otherwise open the command it returned.
    if (!r.opened && r.argv?.length) {
      openTerminal({ title: `kodama: ${name}`, argv: r.argv, cwd: this.store.workspacePaths()[0] });
    }
  }

  async syncStatus(arg?: unknown): Promise<void> {
    const name = await this.pick(arg, "syncStatus", "Session whose sync status to show");
    if (!name) {
      return;
    }
    const st = await this.server.execute<SyncStatus>(ServerCommand.syncStatus, { name });
    this.store.applySync({ name, status: st });
    const lines = st.display?.detail ?? [`Sync of session ${name}: ${syncSummary(st)}`];
    lines.forEach((l) => this.server.output.info(l));
    const choice = await vscode.window.showInformationMessage(`Kodama ${name}: ${syncSummary(st)}.`, "Show Output");
    if (choice === "Show Output") {
      this.server.output.show();
    }
  }

  async lifecycle(arg: unknown, action: "stop" | "resume"): Promise<void> {
    const name = await this.pick(arg, action, action === "stop" ? "Session to stop (its data is kept)" : "Session to resume");
    if (!name) {
      return;
    }
    const verb = action === "stop" ? "stopping" : "resuming";
    const command = action === "stop" ? ServerCommand.stop : ServerCommand.resume;
    const session = await this.server.executeWithProgress<Session>(`Kodama: ${verb} ${name}`, command, { name });
    this.store.upsert(session);
    void vscode.window.showInformationMessage(`Kodama session ${session.name} is ${session.status}.`);
  }

  async delete(arg?: unknown): Promise<void> {
    const name = await this.pick(arg, "delete", "Session to delete (pod and data)");
    if (!name) {
      return;
    }
    // Our own modal, then confirm: true, so the server does not ask a second time.
    const ok = await vscode.window.showWarningMessage(
      `Delete Kodama session ${name}?`,
      { modal: true, detail: "This deletes its pod, its workspace and home volumes and its secrets. Fetch the branch first to keep the agent's commits." },
      "Delete",
    );
    if (ok !== "Delete") {
      return;
    }
    const r = await this.server.executeWithProgress<{ deleted: boolean }>(`Kodama: deleting ${name}`, ServerCommand.delete, {
      name,
      confirm: true,
    });
    if (r.deleted) {
      this.store.remove(name);
      void vscode.window.showInformationMessage(`Kodama session ${name} deleted.`);
    }
  }

  async fetch(arg?: unknown): Promise<void> {
    const name = await this.pick(arg, "fetch", "Session whose branch to fetch");
    if (!name) {
      return;
    }
    const r = await this.server.executeWithProgress<FetchResult>(`Kodama: fetching ${name}`, ServerCommand.fetch, { name });
    void vscode.window.showInformationMessage(fetchMessage(name, r));
  }

  async list(): Promise<void> {
    const name = await this.pick(undefined, "details", "Kodama sessions");
    if (name) {
      await this.details(name);
    }
  }

  /** Details and actions of one session (status-bar click, tree click, List Sessions). */
  async details(arg?: unknown): Promise<void> {
    const name = await this.pick(arg, "details", "Session");
    if (!name) {
      return;
    }
    let s = this.store.sessions.find((x) => x.name === name);
    if (!s) {
      s = await this.server.execute<Session>(ServerCommand.get, { name });
    }
    const session = s;
    type Item = vscode.QuickPickItem & { run?: () => Promise<void> };
    const action = (label: string, run: () => Promise<void>): Item => ({ label, run });
    // Only what the server offers in this status (display.actions), in its order.
    const offered: Partial<Record<SessionActionName, Item>> = {
      attach: action("$(terminal) Attach", () => this.attach(name)),
      logs: action("$(output) Show Agent Log", async () => {
        await vscode.commands.executeCommand(PaletteCommand.logs, name);
      }),
      sync: action("$(sync) Show Sync Status", () => this.syncStatus(name)),
      fetch: action("$(repo-pull) Fetch Branch", () => this.fetch(name)),
      stop: action("$(debug-stop) Stop", () => this.lifecycle(name, "stop")),
      resume: action("$(debug-start) Resume", () => this.lifecycle(name, "resume")),
      delete: action("$(trash) Delete", () => this.delete(name)),
    };
    const actions = display(session).actions.flatMap((a) => offered[a] ?? []);
    const details = sessionDetailLines(session);
    const items: Item[] = [
      ...actions,
      { label: "Details", kind: vscode.QuickPickItemKind.Separator },
      ...details.map((d) => ({ label: d })),
    ];
    const picked = await vscode.window.showQuickPick(items, { title: `Kodama session ${name}`, placeHolder: treeDescription(session, Date.now()) });
    if (picked?.run) {
      await picked.run();
    } else if (picked) {
      this.server.output.info(`Session ${name}:\n  ${details.join("\n  ")}`);
      this.server.output.show(true);
    }
  }

  async restart(): Promise<void> {
    await this.server.restart();
    if (this.server.running) {
      void vscode.window.showInformationMessage(`Kodama: restarted ${this.server.describe()}.`);
    }
  }

  /** Fallback prompt when the server did not ask itself (see WaitingPrompts). */
  async promptWaiting(name: string, message: string | null | undefined): Promise<void> {
    const choice = await vscode.window.showInformationMessage(waitingMessage(name, message), "Attach");
    if (choice === "Attach") {
      try {
        await this.attach(name);
      } catch (err) {
        this.server.reportError(err);
      }
    }
  }
}
