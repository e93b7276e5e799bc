// The "Kodama Sessions" tree view and the status-bar item, both rendered from the SessionStore.
import * as vscode from "vscode";
import type { Session } from "./protocol";
import { PaletteCommand } from "./protocol";
import {
  familySummary,
  sessionDetailLines,
  sessionIcon,
  sessionsSummary,
  statusBarText,
  statusBarTooltip,
  treeContextValue,
  treeDescription,
} from "./logic/format";
import { groupByFamily, isWaiting } from "./logic/sessions";
import type { SessionStore } from "./store";

export class SessionNode {
  constructor(readonly session: Session) {}
}

/** The sessions of one fan-out (`start NAME --count N`), grouped under their family's name. */
export class FamilyNode {
  constructor(
    readonly family: string,
    readonly sessions: Session[],
  ) {}
}

type Node = SessionNode | FamilyNode;

export class SessionTreeProvider implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly sub: vscode.Disposable;

  constructor(private readonly store: SessionStore) {
    this.sub = store.onDidChange(() => this.changed.fire());
  }

  getChildren(element?: Node): Node[] {
    if (element instanceof FamilyNode) {
      return element.sessions.map((s) => new SessionNode(s));
    }
    if (element) {
      return [];
    }
    return groupByFamily(this.store.sorted()).map((g) =>
      g.family === null ? new SessionNode(g.session) : new FamilyNode(g.family, g.sessions),
    );
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node instanceof FamilyNode) {
      const item = new vscode.TreeItem(node.family, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `family:${node.sessions[0]?.namespace ?? ""}/${node.family}`;
      item.description = familySummary(node.sessions);
      item.iconPath = new vscode.ThemeIcon("split-horizontal");
      item.contextValue = "kodamaFamily";
      return item;
    }
    const s = node.session;
    const item = new vscode.TreeItem(s.name, vscode.TreeItemCollapsibleState.None);
    item.id = `${s.namespace}/${s.name}`;
    item.description = treeDescription(s, Date.now());
    item.tooltip = new vscode.MarkdownString(sessionDetailLines(s).map((l) => `- ${l}`).join("\n"));
    item.iconPath = new vscode.ThemeIcon(
      sessionIcon(s),
      isWaiting(s)
        ? new vscode.ThemeColor("charts.yellow")
        : s.status === "Failed"
          ? new vscode.ThemeColor("errorForeground")
          : undefined,
    );
    item.contextValue = treeContextValue(s);
    item.command = { command: PaletteCommand.details, title: "Session Details", arguments: [node] };
    return item;
  }

  dispose(): void {
    this.sub.dispose();
    this.changed.dispose();
  }
}

/** The sessions view, its title saying how many sessions run or wait ("2 running, 1 waiting"). */
export function createSessionsView(store: SessionStore, tree: SessionTreeProvider): vscode.Disposable[] {
  const view = vscode.window.createTreeView("kodamaSessions", { treeDataProvider: tree });
  const describe = (): void => {
    view.description = sessionsSummary(store.sessions) || undefined;
  };
  describe();
  return [view, store.onDidChange(describe)];
}

export class SessionStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("kodama.session", vscode.StatusBarAlignment.Left, 10);
  private readonly sub: vscode.Disposable;

  constructor(private readonly store: SessionStore) {
    this.item.name = "Kodama Session";
    this.sub = store.onDidChange(() => this.render());
    this.render();
    this.item.show();
  }

  private render(): void {
    const s = this.store.current();
    const state = this.store.serverState;
    this.item.text = statusBarText(s, state);
    this.item.tooltip = statusBarTooltip(s, state);
    this.item.backgroundColor = s && isWaiting(s) ? new vscode.ThemeColor("statusBarItem.warningBackground") : undefined;
    this.item.command =
      state === "stopped"
        ? PaletteCommand.showOutput
        : s
          ? { command: PaletteCommand.details, title: "Session Details", arguments: [s.name] }
          : PaletteCommand.list;
  }

  dispose(): void {
    this.sub.dispose();
    this.item.dispose();
  }
}
