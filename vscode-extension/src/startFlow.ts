// "Kodama: Start Session": name (pre-filled with the server's suggestion, Enter accepts it),
// optional prompt (empty Enter: interactive), then a pick whose first item starts. So the
// palette command followed only by Enter presses starts a session on the suggested name.
import * as vscode from "vscode";
import type { KodamaServer } from "./client";
import { chosenName, type StartChoices, type StartOptionItem, startArgs, startOptionItems } from "./logic/start";
import { validateSessionName } from "./logic/sessions";
import { ServerCommand } from "./protocol";

const TITLE = "Kodama: Start Session";

/** The choices the user made, or undefined when they pressed Escape at any step. */
export async function askStartChoices(server: KodamaServer, root: string): Promise<Record<string, string> | undefined> {
  let suggested = "";
  try {
    suggested = (await server.execute<{ name: string }>(ServerCommand.suggestName, { root })).name ?? "";
  } catch (err) {
    server.output.warn(`suggesting a name: ${String(err)}`);
  }
  const typed = await vscode.window.showInputBox({
    title: `${TITLE} (1/3)`,
    prompt: `Session name for ${root} (Enter accepts)`,
    value: suggested,
    valueSelection: [0, suggested.length],
    validateInput: (v) => checkName(server, chosenName(v, suggested)),
    ignoreFocusOut: true,
  });
  if (typed === undefined) {
    return undefined;
  }
  const choices: StartChoices = { name: chosenName(typed, suggested), root, prompt: "", branch: "", image: "" };
  const prompt = await vscode.window.showInputBox({
    title: `${TITLE} (2/3)`,
    prompt: "Task for the agent (optional; empty Enter starts an interactive session)",
    placeHolder: "e.g. fix the failing login test",
    ignoreFocusOut: true,
  });
  if (prompt === undefined) {
    return undefined;
  }
  choices.prompt = prompt;
  for (;;) {
    const picked = await vscode.window.showQuickPick<StartOptionItem>(startOptionItems(choices), {
      title: `${TITLE} (3/3)`,
      placeHolder: "Enter starts; or set the branch or image first",
      ignoreFocusOut: true,
    });
    if (!picked) {
      return undefined;
    }
    if (picked.option === "start") {
      return startArgs(choices);
    }
    const value = await vscode.window.showInputBox({
      title: `${TITLE}: ${picked.option}`,
      prompt: picked.option === "branch" ? "Session branch (empty: the default)" : "Agent image (empty: the configured one)",
      value: choices[picked.option],
      ignoreFocusOut: true,
    });
    if (value !== undefined) {
      choices[picked.option] = value;
    }
  }
}

/** The engine's rule (through the server); the local shape check when the server cannot say. */
async function checkName(server: KodamaServer, name: string): Promise<string | undefined> {
  const local = validateSessionName(name);
  if (local) {
    return local;
  }
  try {
    const r = await server.execute<{ error?: string | null }>(ServerCommand.checkName, { name });
    return r.error ?? undefined;
  } catch {
    return undefined;
  }
}
