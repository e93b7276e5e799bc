// What a workspace may decide: nothing that picks the program run or the cluster credentials.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { findOnPath, resolveServerCommand } from "../src/logic/server";

interface Manifest {
  contributes: { configuration: { properties: Record<string, { scope?: string }> } };
  capabilities?: { untrustedWorkspaces?: { supported: boolean | string; description: string } };
}

// Compiled to out/tsc/test: the manifest is three levels up.
const manifest = JSON.parse(readFileSync(path.join(__dirname, "..", "..", "..", "package.json"), "utf8")) as Manifest;

describe("workspace trust", () => {
  it("makes the settings that choose programs and credentials machine-scoped", () => {
    const props = manifest.contributes.configuration.properties;
    for (const key of ["kodama.server.path", "kodama.server.python", "kodama.kubeconfig"]) {
      assert.equal(props[key].scope, "machine", key);
    }
  });

  it("declares its behaviour in untrusted workspaces", () => {
    const untrusted = manifest.capabilities?.untrustedWorkspaces;
    assert.ok(untrusted, "capabilities.untrustedWorkspaces is missing");
    assert.equal(untrusted.supported, false);
    assert.match(untrusted.description, /trust/i);
  });

  it("starts python without the current directory on the import path", () => {
    const r = resolveServerCommand({ serverPath: "", python: "python3" }, { PATH: "/x" }, () => false);
    assert.deepEqual(r.args, ["-P", "-m", "kodama_lsp"]);
  });

  it("never takes kodama-lsp from a relative PATH entry", () => {
    const everywhere = () => true;
    assert.equal(findOnPath("kodama-lsp", `.${path.delimiter}bin${path.delimiter}/opt/k`, everywhere), "/opt/k/kodama-lsp");
    assert.equal(findOnPath("kodama-lsp", ".", everywhere), undefined);
  });
});
