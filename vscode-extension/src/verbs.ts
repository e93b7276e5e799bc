// Palette commands for the CLI verbs beyond the lifecycle: the agent's log (a read-only
// document, or a terminal that follows it), waiting for an agent state, sync pause / resume /
// push / pull, and the merged configuration.
import * as vscode from "vscode";
import type { KodamaServer } from "./client";
import type { SessionAction } from "./logic/sessions";
import { type AgentInfo, type AttachResult, type ConfigView, type CopyResult, type LogsResult, PaletteCommand, ServerCommand, type SyncStatus } from "./protocol";
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
    ];
  }

  async logs(arg?: unknown): Promise<void> {
    const name = await this.pick(arg, "logs", "Session whose agent log to show");
    if (!name) {
      return;
    }
    const r = await this.server.executeWithProgress<LogsResult>(`Kodama: reading the log of ${name}`, ServerCommand.logs, { name });
    const doc = await vscode.workspace.openTextDocument({ content: r.text || `(the agent of ${name} has not logged anything yet)\n`, language: "log" });
    await vscode.window.showTextDocument(doc, { preview: true });
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
    const r = await this.server.execute<ConfigView>(ServerCommand.configView, root ? { root } : {});
    const header = `# Kodama configuration (merged) — sources: ${r.sources.join(", ") || "(defaults only)"}\n`;
    const doc = await vscode.workspace.openTextDocument({ content: header + r.text, language: "yaml" });
    await vscode.window.showTextDocument(doc, { preview: true });
  }
}
