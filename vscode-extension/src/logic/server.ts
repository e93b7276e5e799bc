// How to launch kodama-lsp and what to tell it at initialize. Pure: file-system checks and the
// environment are passed in, so this is unit-tested without VS Code.
import * as path from "node:path";
import type { InitializationOptions } from "../protocol";

export interface ServerSettings {
  serverPath: string;
  python: string;
}

export interface ServerCommandLine {
  command: string;
  args: string[];
  /** Which rule chose it; logged in the output channel so users know what runs. */
  source: "setting" | "path" | "python";
}

export const SERVER_EXECUTABLE = "kodama-lsp";
export const SERVER_MODULE = "kodama_lsp";

export function expandHome(p: string, home: string): string {
  if (p === "~") {
    return home;
  }
  if (p.startsWith("~/")) {
    return path.join(home, p.slice(2));
  }
  return p;
}

export function findOnPath(
  name: string,
  pathEnv: string | undefined,
  isExecutable: (candidate: string) => boolean,
): string | undefined {
  for (const dir of (pathEnv ?? "").split(path.delimiter)) {
    // Relative entries ("", ".", "bin") resolve against the workspace: never run what it carries.
    if (!dir || !path.isAbsolute(dir)) {
      continue;
    }
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) {
      return candidate;
    }
  }
  return undefined;
}

/** `kodama.server.path`, else `kodama-lsp` on PATH, else `<kodama.server.python> -P -m kodama_lsp`. */
export function resolveServerCommand(
  settings: ServerSettings,
  env: { PATH?: string; HOME?: string },
  isExecutable: (candidate: string) => boolean,
): ServerCommandLine {
  const home = env.HOME ?? "";
  const configured = settings.serverPath.trim();
  if (configured) {
    return { command: expandHome(configured, home), args: [], source: "setting" };
  }
  const onPath = findOnPath(SERVER_EXECUTABLE, env.PATH, isExecutable);
  if (onPath) {
    return { command: onPath, args: [], source: "path" };
  }
  const python = settings.python.trim() || "python3";
  // -P: the server's directory (a workspace) is not put on the import path (Python >= 3.11).
  return { command: expandHome(python, home), args: ["-P", "-m", SERVER_MODULE], source: "python" };
}

export interface KubeSettings {
  kubeconfig: string;
  context: string;
  namespace: string;
  refreshInterval: number | undefined;
}

/** Only the keys the user set: the server falls back to kubectl's and Kodama's defaults. */
export function buildInitializationOptions(s: KubeSettings, home: string): InitializationOptions {
  const options: InitializationOptions = {};
  if (s.kubeconfig.trim()) {
    options.kubeconfig = expandHome(s.kubeconfig.trim(), home);
  }
  if (s.context.trim()) {
    options.context = s.context.trim();
  }
  if (s.namespace.trim()) {
    options.namespace = s.namespace.trim();
  }
  if (typeof s.refreshInterval === "number" && Number.isFinite(s.refreshInterval) && s.refreshInterval > 0) {
    options.refreshInterval = s.refreshInterval;
  }
  return options;
}

/** Adds `experimental.kodama.openTerminal = true`, keeping whatever else is there. */
export function addOpenTerminalCapability(capabilities: { experimental?: unknown }): void {
  const experimental =
    capabilities.experimental && typeof capabilities.experimental === "object"
      ? (capabilities.experimental as Record<string, unknown>)
      : {};
  const kodama =
    experimental.kodama && typeof experimental.kodama === "object" ? (experimental.kodama as Record<string, unknown>) : {};
  capabilities.experimental = { ...experimental, kodama: { ...kodama, openTerminal: true } };
}
