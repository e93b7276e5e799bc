import * as vscode from "vscode";
import type { OpenTerminalParams } from "./protocol";

/** Handles `kodama/openTerminal` and the client-side fallback of attach. */
export function openTerminal(p: OpenTerminalParams): { opened: boolean } {
  const [shellPath, ...shellArgs] = p.argv;
  if (!shellPath) {
    return { opened: false };
  }
  const terminal = vscode.window.createTerminal({
    name: p.title,
    shellPath,
    shellArgs,
    cwd: p.cwd ?? undefined,
  });
  terminal.show();
  return { opened: true };
}
