import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { addOpenTerminalCapability, buildInitializationOptions, expandHome, findOnPath, resolveServerCommand } from "../src/logic/server";

const exists = (set: string[]) => (p: string) => set.includes(p);

describe("resolveServerCommand", () => {
  it("prefers kodama.server.path", () => {
    const r = resolveServerCommand({ serverPath: " /opt/k/bin/kodama-lsp ", python: "python3" }, { PATH: "/usr/bin" }, exists(["/usr/bin/kodama-lsp"]));
    assert.deepEqual(r, { command: "/opt/k/bin/kodama-lsp", args: [], source: "setting" });
  });

  it("expands ~ in the configured path", () => {
    const r = resolveServerCommand({ serverPath: "~/.venv/bin/kodama-lsp", python: "" }, { HOME: "/home/me" }, () => false);
    assert.equal(r.command, "/home/me/.venv/bin/kodama-lsp");
  });

  it("falls back to kodama-lsp on PATH, first match wins", () => {
    const r = resolveServerCommand(
      { serverPath: "", python: "python3" },
      { PATH: "/a::/b:/c" },
      exists(["/b/kodama-lsp", "/c/kodama-lsp"]),
    );
    assert.deepEqual(r, { command: "/b/kodama-lsp", args: [], source: "path" });
  });

  it("falls back to python -m kodama_lsp", () => {
    assert.deepEqual(resolveServerCommand({ serverPath: "", python: "/usr/bin/python3.11" }, { PATH: "/x" }, () => false), {
      command: "/usr/bin/python3.11",
      args: ["-P", "-m", "kodama_lsp"],
      source: "python",
    });
    assert.equal(resolveServerCommand({ serverPath: "", python: "  " }, {}, () => false).command, "python3");
  });
});

describe("findOnPath / expandHome", () => {
  it("handles an empty PATH", () => {
    assert.equal(findOnPath("kodama-lsp", undefined, () => true), undefined);
  });
  it("only expands a leading ~", () => {
    assert.equal(expandHome("~", "/h"), "/h");
    assert.equal(expandHome("/x/~/y", "/h"), "/x/~/y");
    assert.equal(expandHome("~other/y", "/h"), "~other/y");
  });
});

describe("buildInitializationOptions", () => {
  it("sends only what is set", () => {
    assert.deepEqual(buildInitializationOptions({ kubeconfig: "", context: "", namespace: "", refreshInterval: undefined }, "/h"), {});
  });
  it("sends all keys, trimmed and expanded", () => {
    assert.deepEqual(
      buildInitializationOptions({ kubeconfig: "~/kc", context: " kind-dev ", namespace: "dev", refreshInterval: 2.5 }, "/h"),
      { kubeconfig: "/h/kc", context: "kind-dev", namespace: "dev", refreshInterval: 2.5 },
    );
  });
  it("drops a nonsensical refresh interval", () => {
    assert.deepEqual(buildInitializationOptions({ kubeconfig: "", context: "", namespace: "", refreshInterval: 0 }, "/h"), {});
    assert.deepEqual(buildInitializationOptions({ kubeconfig: "", context: "", namespace: "", refreshInterval: NaN }, "/h"), {});
  });
});

describe("addOpenTerminalCapability", () => {
  it("adds the flag to empty capabilities", () => {
    const caps: { experimental?: unknown } = {};
    addOpenTerminalCapability(caps);
    assert.deepEqual(caps, { experimental: { kodama: { openTerminal: true } } });
  });
  it("keeps other experimental capabilities", () => {
    const caps: { experimental?: unknown } = { experimental: { other: 1, kodama: { future: true } } };
    addOpenTerminalCapability(caps);
    assert.deepEqual(caps.experimental, { other: 1, kodama: { future: true, openTerminal: true } });
  });
});
