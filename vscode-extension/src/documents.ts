// Serves the `kodama:` documents (logic/documents.ts): titled, read-only, refreshable.
import * as vscode from "vscode";
import type { KodamaServer } from "./client";
import { docContent, docUri, type KodamaDoc, parseDocUri, SCHEME } from "./logic/documents";

export class KodamaDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  // Text read by show() for the provider's next call: a failed read is the command's error (the
  // server's one line), not VS Code's "cannot open kodama:…".
  private readonly ready = new Map<string, string>();

  constructor(private readonly server: KodamaServer) {}

  register(): vscode.Disposable {
    return vscode.workspace.registerTextDocumentContentProvider(SCHEME, this);
  }

  provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const text = this.ready.get(uri.toString());
    if (text !== undefined) {
      this.ready.delete(uri.toString());
      return Promise.resolve(text);
    }
    const doc = parseDocUri(uri.path, uri.query);
    if (!doc) {
      return Promise.reject(new Error(`not a Kodama document: ${uri.toString()}`));
    }
    return this.read(doc);
  }

  private read(doc: KodamaDoc): Promise<string> {
    return docContent(doc, (title, command, arg) => this.server.executeWithProgress(title, command, arg));
  }

  uri(doc: KodamaDoc): vscode.Uri {
    const { path, query } = docUri(doc);
    return vscode.Uri.from({ scheme: SCHEME, path, query });
  }

  /** Opens the document, read again from the server when it is already open. */
  async show(doc: KodamaDoc): Promise<vscode.TextEditor> {
    const uri = this.uri(doc);
    const text = await this.read(doc);
    this.ready.set(uri.toString(), text);
    if (vscode.workspace.textDocuments.some((d) => d.uri.toString() === uri.toString())) {
      this.changed.fire(uri);
    }
    const opened = await vscode.workspace.openTextDocument(uri);
    return vscode.window.showTextDocument(opened, { preview: true });
  }

  /** The editor title's refresh button: re-read the active `kodama:` document. */
  refresh(uri?: vscode.Uri): Promise<void> {
    const target = uri ?? vscode.window.activeTextEditor?.document.uri;
    if (target?.scheme === SCHEME) {
      this.changed.fire(target);
    }
    return Promise.resolve();
  }

  dispose(): void {
    this.ready.clear();
    this.changed.dispose();
  }
}
