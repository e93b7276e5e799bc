// Entry point: builds the store, the server manager, the views and the commands, and restarts
// the server when a kodama.* setting changes.
import * as vscode from "vscode";
import { KodamaServer } from "./client";
import { Commands } from "./commands";
import { SessionStore } from "./store";
import { createSessionsView, SessionStatusBar, SessionTreeProvider } from "./views";

let server: KodamaServer | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel("Kodama", { log: true });
  const store = new SessionStore();
  server = new KodamaServer(output, store, (name, message) => void commands.promptWaiting(name, message));
  const commands = new Commands(server, store);
  const tree = new SessionTreeProvider(store);
  const srv = server;

  let pendingRestart: NodeJS.Timeout | undefined;
  context.subscriptions.push(
    output,
    store,
    srv,
    tree,
    ...createSessionsView(store, tree),
    new SessionStatusBar(store),
    ...commands.register(),
    vscode.workspace.onDidChangeConfiguration((e) => {
      // trace.server is read live by the language client; everything else needs a new server.
      if (!e.affectsConfiguration("kodama") || (e.affectsConfiguration("kodama.trace") && !affectsServer(e))) {
        return;
      }
      clearTimeout(pendingRestart);
      pendingRestart = setTimeout(() => {
        output.info("Settings changed: restarting kodama-lsp");
        void srv.restart();
      }, 500);
    }),
    { dispose: () => clearTimeout(pendingRestart) },
  );
  // Not awaited: activation must not wait on a slow or missing server; commands wait for it.
  void srv.start();
}

function affectsServer(e: vscode.ConfigurationChangeEvent): boolean {
  return ["kodama.server", "kodama.kubeconfig", "kodama.context", "kodama.namespace", "kodama.refreshInterval"].some((k) =>
    e.affectsConfiguration(k),
  );
}

export async function deactivate(): Promise<void> {
  await server?.stop();
  server = undefined;
}
