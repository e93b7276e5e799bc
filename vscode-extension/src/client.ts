// Owns the kodama-lsp process: resolves how to launch it, (re)starts it, wires the server's
// custom requests and notifications, and sends commands with progress and cancellation.
import * as fs from "node:fs";
import * as os from "node:os";
import * as vscode from "vscode";
import {
  type ClientCapabilities,
  ExecuteCommandRequest,
  type FeatureState,
  LanguageClient,
  type LanguageClientOptions,
  MessageType,
  type ServerOptions,
  ShowMessageNotification,
  ShowMessageRequest,
  type StaticFeature,
  State,
  TransportKind,
  WorkDoneProgress,
} from "vscode-languageclient/node";
import {
  type AgentStateParams,
  Method,
  type OpenTerminalParams,
  type Session,
  type SessionsChangedParams,
  ServerCommand,
  type SyncStatusParams,
} from "./protocol";
import { addOpenTerminalCapability, buildInitializationOptions, resolveServerCommand, type ServerCommandLine } from "./logic/server";
import { MessageDeduper, errorMessage } from "./logic/dedupe";
import { WaitingPrompts } from "./logic/waiting";
import type { SessionStore } from "./store";
import { openTerminal } from "./terminal";

/** Tells the server this client opens terminals itself (`kodama/openTerminal`). */
class OpenTerminalCapability implements StaticFeature {
  fillClientCapabilities(capabilities: ClientCapabilities): void {
    addOpenTerminalCapability(capabilities);
  }
  initialize(): void {}
  getState(): FeatureState {
    return { kind: "static" };
  }
  clear(): void {}
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

export class KodamaServer implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private commandLine: ServerCommandLine | undefined;
  private starting: Promise<void> | undefined;
  readonly errors = new MessageDeduper();
  private readonly waiting = new WaitingPrompts();

  constructor(
    readonly output: vscode.LogOutputChannel,
    private readonly store: SessionStore,
    private readonly onWaiting: (name: string, message: string | null | undefined) => void,
  ) {}

  get running(): boolean {
    return this.client?.state === State.Running;
  }

  async start(): Promise<void> {
    if (this.starting) {
      return this.starting;
    }
    this.starting = this.doStart().finally(() => (this.starting = undefined));
    await this.starting;
    // After `starting` is cleared: execute() waits on it.
    if (this.running) {
      await this.refresh();
    }
  }

  private async doStart(): Promise<void> {
    const cfg = vscode.workspace.getConfiguration("kodama");
    const home = os.homedir();
    const cmd = resolveServerCommand(
      { serverPath: cfg.get<string>("server.path", ""), python: cfg.get<string>("server.python", "python3") },
      { PATH: process.env.PATH, HOME: home },
      isExecutable,
    );
    const initializationOptions = buildInitializationOptions(
      {
        kubeconfig: cfg.get<string>("kubeconfig", ""),
        context: cfg.get<string>("context", ""),
        namespace: cfg.get<string>("namespace", ""),
        refreshInterval: cfg.get<number>("refreshInterval"),
      },
      home,
    );
    this.commandLine = cmd;
    this.output.info(`Starting ${[cmd.command, ...cmd.args].join(" ")} (from ${describeSource(cmd)})`);
    this.output.info(`initializationOptions: ${JSON.stringify(initializationOptions)}`);

    // A fixed directory, not the workspace: nothing the checkout carries is found relative to
    // where the server runs (it learns the workspace folders from initialize).
    const serverOptions: ServerOptions = {
      command: cmd.command,
      args: cmd.args,
      transport: TransportKind.stdio,
      options: { cwd: home, env: process.env },
    };
    const clientOptions: LanguageClientOptions = {
      // Code actions are offered for files of a git workspace; the commands need no documents.
      documentSelector: [{ scheme: "file" }],
      outputChannel: this.output,
      initializationOptions,
      // The server reports failures as messages; do not pop the output channel on top of them.
      revealOutputChannelOn: 4 /* RevealOutputChannelOn.Never */,
    };
    const client = new LanguageClient("kodama", "Kodama", serverOptions, clientOptions);
    client.registerFeature(new OpenTerminalCapability());
    this.wire(client);
    this.client = client;
    this.store.setServerState("starting");
    client.onDidChangeState((e) => {
      if (this.client !== client) {
        return;
      }
      this.store.setServerState(e.newState === State.Running ? "running" : e.newState === State.Starting ? "starting" : "stopped");
    });
    try {
      await client.start();
    } catch (err) {
      this.store.setServerState("stopped");
      const msg = `Kodama: could not start ${cmd.command}: ${errorMessage(err)}`;
      this.output.error(msg);
      void vscode.window.showErrorMessage(msg, "Show Output", "Open Settings").then((choice) => {
        if (choice === "Show Output") {
          this.output.show();
        } else if (choice === "Open Settings") {
          void vscode.commands.executeCommand("workbench.action.openSettings", "kodama.server");
        }
      });
      return;
    }
  }

  private wire(client: LanguageClient): void {
    client.onRequest(Method.openTerminal, (p: OpenTerminalParams) => openTerminal(p));
    client.onNotification(Method.sessionsChanged, (p: SessionsChangedParams) => this.store.replace(p.sessions ?? []));
    client.onNotification(Method.syncStatus, (p: SyncStatusParams) => this.store.applySync(p));
    client.onNotification(Method.agentState, (p: AgentStateParams) => {
      const since = Date.now();
      if (this.store.applyAgent(p)) {
        // Give the server's own showMessageRequest a moment to arrive before deciding.
        setTimeout(() => {
          if (this.waiting.clientShouldPrompt(p.name, since)) {
            this.onWaiting(p.name, p.message);
          }
        }, 2_000);
      }
    });
    // Replace the default handlers (registered before ours) to show each error once and to
    // notice the server's own "waiting" prompts.
    client.onNotification(ShowMessageNotification.type, (m) => {
      switch (m.type) {
        case MessageType.Error:
          if (this.errors.shouldShow(m.message)) {
            void vscode.window.showErrorMessage(m.message);
          }
          break;
        case MessageType.Warning:
          void vscode.window.showWarningMessage(m.message);
          break;
        default:
          void vscode.window.showInformationMessage(m.message);
      }
    });
    client.onRequest(ShowMessageRequest.type, async (p) => {
      this.waiting.noteServerRequest(p.message, Date.now());
      const actions = p.actions ?? [];
      const show =
        p.type === MessageType.Error
          ? vscode.window.showErrorMessage
          : p.type === MessageType.Warning
            ? vscode.window.showWarningMessage
            : vscode.window.showInformationMessage;
      return (await show(p.message, ...actions)) ?? null;
    });
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) {
      try {
        if (client.needsStop()) {
          await client.stop(5_000);
        }
      } catch (err) {
        this.output.warn(`stopping kodama-lsp: ${errorMessage(err)}`);
      }
      await client.dispose(2_000).catch(() => undefined);
    }
    this.store.setServerState("stopped");
  }

  async restart(): Promise<void> {
    if (this.starting) {
      await this.starting.catch(() => undefined);
    }
    await this.stop();
    await this.start();
  }

  /** Runs a server command; rejects with the server's one-line error. */
  async execute<T>(command: string, arg: object = {}, token?: vscode.CancellationToken, workDoneToken?: string): Promise<T> {
    if (this.starting) {
      await this.starting;
    }
    const client = this.client;
    if (!client || !this.running) {
      throw new Error("the Kodama language server is not running (Kodama: Restart Server, or see the Kodama output)");
    }
    const params = { command, arguments: [arg], ...(workDoneToken ? { workDoneToken } : {}) };
    return (await client.sendRequest(ExecuteCommandRequest.type, params, token)) as T;
  }

  /** Runs a long server command in a cancellable notification fed by the server's work-done progress. */
  executeWithProgress<T>(title: string, command: string, arg: object = {}): Thenable<T> {
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title, cancellable: true },
      async (progress, token) => {
        const client = this.client;
        const workDoneToken = `kodama-${Date.now()}-${Math.random().toString(36).slice(2)}`;
        const sub = client?.onProgress(WorkDoneProgress.type, workDoneToken, (v) => {
          if ((v.kind === "begin" || v.kind === "report") && v.message) {
            // The server also logs each step (window/logMessage) to the output channel.
            progress.report({ message: v.message });
          }
        });
        try {
          return await this.execute<T>(command, arg, token, workDoneToken);
        } finally {
          sub?.dispose();
        }
      },
    );
  }

  /** Re-lists the sessions; `rethrow` for callers that must tell the user why there are none. */
  async refresh(rethrow = false): Promise<void> {
    try {
      this.store.replace(await this.execute<Session[]>(ServerCommand.list, {}));
    } catch (err) {
      this.output.warn(`listing sessions: ${errorMessage(err)}`);
      if (rethrow) {
        throw err;
      }
    }
  }

  /** Shows a failed command's message unless the server's showMessage already did. */
  reportError(err: unknown): void {
    const msg = errorMessage(err);
    this.output.error(msg);
    if (isCancel(err)) {
      return;
    }
    if (this.errors.shouldShow(msg)) {
      void vscode.window.showErrorMessage(msg);
    }
  }

  describe(): string {
    return this.commandLine ? [this.commandLine.command, ...this.commandLine.args].join(" ") : "(not started)";
  }

  dispose(): void {
    void this.stop();
  }
}

function isCancel(err: unknown): boolean {
  // -32800 is JSON-RPC RequestCancelled: the user cancelled, nothing to report.
  return (err as { code?: unknown } | undefined)?.code === -32800 || (err instanceof Error && err.name === "Canceled");
}

function describeSource(cmd: ServerCommandLine): string {
  switch (cmd.source) {
    case "setting":
      return "kodama.server.path";
    case "path":
      return "PATH";
    default:
      return "kodama.server.python";
  }
}
