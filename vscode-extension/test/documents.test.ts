import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { docContent, docTitle, docUri, type KodamaDoc, parseDocUri } from "../src/logic/documents";
import { ServerCommand } from "../src/protocol";

const DOCS: [KodamaDoc, string][] = [
  [{ kind: "logs", name: "fix-login" }, "kodama:/fix-login/logs.log"],
  [{ kind: "config" }, "kodama:/config.yaml"],
  [{ kind: "config", root: "/home/me/src/app b" }, "kodama:/config.yaml?root=%2Fhome%2Fme%2Fsrc%2Fapp+b"],
  [{ kind: "rbac" }, "kodama:/rbac.yaml"],
  [{ kind: "rbac", user: "alice", serviceAccount: "ci:runner" }, "kodama:/rbac.yaml?user=alice&serviceAccount=ci%3Arunner"],
];

/** A server that answers with canned results and records what it was asked. */
function fakeServer(results: Record<string, unknown>) {
  const calls: { title: string; command: string; arg: object }[] = [];
  const execute = <T>(title: string, command: string, arg: object): Promise<T> => {
    calls.push({ title, command, arg });
    return Promise.resolve(results[command] as T);
  };
  return { calls, execute };
}

describe("kodama: documents", () => {
  for (const [doc, uri] of DOCS) {
    it(`${JSON.stringify(doc)} is ${uri} and back`, () => {
      const { path, query } = docUri(doc);
      assert.equal(`kodama:${path}${query ? `?${query}` : ""}`, uri);
      assert.deepEqual(parseDocUri(path, query), doc);
    });
  }

  it("has a file name that gives the language and the tab's title", () => {
    assert.ok(docUri({ kind: "logs", name: "x" }).path.endsWith("/logs.log"));
    assert.ok(docUri({ kind: "config" }).path.endsWith(".yaml"));
    assert.ok(docUri({ kind: "rbac" }).path.endsWith(".yaml"));
  });

  it("refuses any other path", () => {
    for (const path of ["/", "/x.yaml", "/Bad_Name/logs.log", "/a/b/logs.log", "/config.yaml/x"]) {
      assert.equal(parseDocUri(path, ""), undefined, path);
    }
  });

  it("reads a log from kodama.session.logs, saying so when it is empty", async () => {
    const server = fakeServer({ [ServerCommand.logs]: { name: "a", text: "[session s1]\nLooking.\n", lines: 2 } });
    assert.equal(await docContent({ kind: "logs", name: "a" }, server.execute), "[session s1]\nLooking.\n");
    assert.deepEqual(server.calls, [{ title: "Kodama: reading the log of a", command: ServerCommand.logs, arg: { name: "a" } }]);
    const empty = fakeServer({ [ServerCommand.logs]: { name: "a", text: "", lines: 0 } });
    assert.equal(await docContent({ kind: "logs", name: "a" }, empty.execute), "(the agent of a has not logged anything yet)\n");
  });

  it("reads the configuration of the root it names, with its sources", async () => {
    const server = fakeServer({ [ServerCommand.configView]: { text: "image: a:1\n", sources: ["/h/config.yaml", "/r/.kodama.yaml"] } });
    const text = await docContent({ kind: "config", root: "/r" }, server.execute);
    assert.equal(text, "# Kodama configuration (merged) — sources: /h/config.yaml, /r/.kodama.yaml\nimage: a:1\n");
    assert.deepEqual(server.calls[0].arg, { root: "/r" });
    const none = fakeServer({ [ServerCommand.configView]: { text: "{}\n", sources: [] } });
    assert.match(await docContent({ kind: "config" }, none.execute), /^# .*\(defaults only\)\n\{\}\n$/);
    assert.deepEqual(none.calls[0].arg, {});
  });

  it("reads the RBAC Role from kodama.rbac.show with the subjects it names", async () => {
    const server = fakeServer({ [ServerCommand.rbacShow]: { text: "kind: Role\n", namespace: "dev" } });
    const text = await docContent({ kind: "rbac", serviceAccount: "ci:runner" }, server.execute);
    assert.equal(text, "# Kodama RBAC for namespace dev: kubectl apply -f -\nkind: Role\n");
    assert.deepEqual(server.calls, [
      { title: docTitle({ kind: "rbac" }), command: "kodama.rbac.show", arg: { serviceAccount: "ci:runner" } },
    ]);
  });
});
