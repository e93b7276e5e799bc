// Palette commands for the CLI verbs beyond the lifecycle: the agent's log (a read-only
// document, or a terminal that follows it), waiting for an agent state, sync pause / resume /
// push / pull, the merged configuration and the RBAC Role. Text opens as a `kodama:` document.
import * as vscode from "vscode";
import type { KodamaServer } from "./client";
import type { KodamaDocuments } from "./documents";
import type { SessionAction } from "./logic/sessions";
import { type AgentInfo, type AttachResult, type CopyResult, PaletteCommand, ServerCommand, type SyncStatus } from "./protocol";
import type { SessionStore } from "./store";
import { openTerminal } from "./terminal";

type Pick = (arg: unknown, action: SessionAction, placeHolder: string) => Promise<string | undefined>;
type Register = (id: string, fn: (arg?: unknown) => Promise<unknown>) => vscode.Disposable;

const WAIT_STATES = [
  { label: "waiting", description: "the agent asks for you" },
  { label: "idle", description: "the agent finished its turn" },
  { label: "exited", description: "the agent process ended" },
  { label: "working", description: "the agent is busy" },
];

export class VerbCommands {
  constructor(
    private readonly server: KodamaServer,
    private readonly store: SessionStore,
    private readonly pick: Pick,
    private readonly docs: KodamaDocuments,
  ) {}

  register(reg: Register): vscode.Disposable[] {
    return [
      reg(PaletteCommand.logs, (a) => this.logs(a)),
      reg(PaletteCommand.followLogs, (a) => this.followLogs(a)),
      reg(PaletteCommand.wait, (a) => this.wait(a)),
      reg(PaletteCommand.syncPause, (a) => this.syncControl(a, "pause")),
      reg(PaletteCommand.syncResume, (a) => this.syncControl(a, "resume")),
      reg(PaletteCommand.syncPush, (a) => this.copy(a, "push")),
      reg(PaletteCommand.syncPull, (a) => this.copy(a, "pull")),
      reg(PaletteCommand.configView, () => this.configView()),
      reg(PaletteCommand.rbac, () => this.rbac()),
      reg(PaletteCommand.refreshDocument, (a) => this.docs.refresh(a instanceof vscode.Uri ? a : undefined)),
    ];
  }

  async logs(arg?: unknown): Promise<void> {
    const name = await this.pick(arg, "logs", "Session whose agent log to show");
    if (!name) {
      return;
    }
    await this.docs.show({ kind: "logs", name });
  }

  async followLogs(arg?: unknown): Promise<void> {
    const name = await this.pick(arg, "logs", "Session whose agent log to follow");
    if (!name) {
      return;
    }
    const r = await this.server.execute<AttachResult>(ServerCommand.logs, { name, follow: true });
    if (!r.opened && r.argv?.length) {
      openTerminal({ title: `kodama logs: ${name}`, argv: r.argv, cwd: this.store.workspacePaths()[0] });
    }
  }

  async wait(arg?: unknown): Promise<void> {
    const name = await this.pick(arg, "wait", "Session to wait for");
    if (!name) {
      return;
    }
    const state = await vscode.window.showQuickPick(WAIT_STATES, { title: `Kodama: wait until the agent of ${name} is…` });
    if (!state) {
      return;
    }
    const r = await this.server.executeWithProgress<AgentInfo>(`Kodama: waiting for ${name} to be ${state.label}`, ServerCommand.wait, {
      name,
      for: state.label,
    });
    const msg = r.message ? ` — ${r.message}` : "";
    void vscode.window.showInformationMessage(`Kodama ${name}: the agent is ${r.state}${msg}.`);
  }

  async syncControl(arg: unknown, verb: "pause" | "resume"): Promise<void> {
    const name = await this.pick(arg, "sync", verb === "pause" ? "Session whose sync to pause" : "Session whose sync to resume");
    if (!name) {
      return;
    }
    const command = verb === "pause" ? ServerCommand.syncPause : ServerCommand.syncResume;
    const st = await this.server.executeWithProgress<SyncStatus>(`Kodama: sync ${verb} ${name}`, command, { name });
    this.store.applySync({ name, status: st });
    void vscode.window.showInformationMessage(`Kodama: file sync of ${name} ${verb === "pause" ? "paused" : "resumed"} (${st.state}).`);
  }

  async copy(arg: unknown, verb: "push" | "pull"): Promise<void> {
    const name = await this.pick(arg, "sync", verb === "push" ? "Session to copy the checkout into" : "Session to copy the workspace from");
    if (!name) {
      return;
    }
    const what =
      verb === "push"
        ? `Copy your checkout into the workspace of ${name}, overwriting files there?`
        : `Copy the workspace of ${name} into your checkout, overwriting local files (never ones with uncommitted changes)?`;
    const ok = await vscode.window.showWarningMessage(what, { modal: true }, verb === "push" ? "Push" : "Pull");
    if (!ok) {
      return;
    }
    const command = verb === "push" ? ServerCommand.syncPush : ServerCommand.syncPull;
    const r = await this.server.executeWithProgress<CopyResult>(`Kodama: sync ${verb} ${name}`, command, { name });
    const files = `${r.files} file${r.files === 1 ? "" : "s"}`;
    void vscode.window.showInformationMessage(verb === "push" ? `Kodama: pushed ${files} to ${name}.` : `Kodama: pulled ${files} from ${name}.`);
  }

  async configView(): Promise<void> {
    const root = (vscode.workspace.workspaceFolders ?? []).find((f) => f.uri.scheme === "file")?.uri.fsPath;
    await this.docs.show(root ? { kind: "config", root } : { kind: "config" });
  }

  async rbac(): Promise<void> {
    const bind = await vscode.window.showQuickPick(RBAC_CHOICES, { title: "Kodama: the Role Kodama needs in the session namespace" });
    if (!bind) {
      return;
    }
    if (!bind.to) {
      await this.docs.show({ kind: "rbac" });
      return;
    }
    const who = (await vscode.window.showInputBox({ title: bind.label, prompt: bind.ask, ignoreFocusOut: true }))?.trim();
    if (who) {
      await this.docs.show({ kind: "rbac", [bind.to]: who });
    }
  }
}

const RBAC_CHOICES: (vscode.QuickPickItem & { to?: "user" | "serviceAccount"; ask?: string })[] = [
  { label: "The Role alone", description: "kubectl kodama rbac" },
  { label: "Bound to a user", description: "--user NAME", to: "user", ask: "The user to bind the Role to" },
  { label: "Bound to a ServiceAccount", description: "--serviceaccount [NS:]NAME", to: "serviceAccount", ask: "The ServiceAccount, as [NAMESPACE:]NAME" },
];
