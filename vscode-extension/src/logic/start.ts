// The "Start Session" flow's choices and the server arguments they make. Pure: the flow in
// startFlow.ts only asks, this decides what each answer means.

export interface StartChoices {
  name: string;
  root: string;
  /** Empty: an interactive session (no headless run). */
  prompt: string;
  /** Empty: the server's default (branchPrefix + NAME). */
  branch: string;
  /** Empty: the configured image. */
  image: string;
}

export type StartOption = "start" | "branch" | "image";

export interface StartOptionItem {
  label: string;
  description: string;
  option: StartOption;
}

/** The server's `kodama.session.start` argument: only what the user set. */
export function startArgs(c: StartChoices): Record<string, string> {
  const args: Record<string, string> = { name: c.name.trim(), root: c.root };
  for (const key of ["prompt", "branch", "image"] as const) {
    const v = c[key].trim();
    if (v) {
      args[key] = v;
    }
  }
  return args;
}

/** The last step's items; "Start" comes first so that Enter starts. */
export function startOptionItems(c: StartChoices): StartOptionItem[] {
  const prompt = c.prompt.trim();
  const what = prompt ? `headless: ${oneLine(prompt, 60)}` : "interactive (attach to talk to the agent)";
  return [
    { label: `$(play) Start ${c.name.trim()}`, description: what, option: "start" },
    { label: "$(git-branch) Branch…", description: c.branch.trim() || "default (branchPrefix + name)", option: "branch" },
    { label: "$(package) Image…", description: c.image.trim() || "default (from the configuration)", option: "image" },
  ];
}

/** The name to start under: what the box holds, else the suggestion (Enter on an emptied box). */
export function chosenName(typed: string, suggested: string): string {
  return typed.trim() || suggested.trim();
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
