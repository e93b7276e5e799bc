import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import {
  applyAgentState,
  applySyncStatus,
  belongsToWorkspace,
  currentSession,
  groupByFamily,
  sessionNameFromArg,
  sessionsForAction,
  sortSessions,
  validateSessionName,
} from "../src/logic/sessions";
import type { AgentStateParams, SyncStatus } from "../src/protocol";
import { session } from "./fixtures";

const old = session({ name: "old", createdAt: "2026-11-20T10:00:00Z", localPath: "/src/app" });
const newer = session({ name: "newer", createdAt: "2026-11-26T10:00:00Z", localPath: "/src/other" });
const newest = session({ name: "newest", createdAt: "2026-11-27T10:00:00Z", localPath: null, status: "Stopped" });

describe("currentSession", () => {
  it("prefers the session of this workspace even when older", () => {
    assert.equal(currentSession([newest, old, newer], ["/src/app"])?.name, "old");
  });
  it("matches a workspace folder inside the session's repository, trailing slash or not", () => {
    assert.equal(belongsToWorkspace(old, ["/src/app/pkg/"]), true);
    assert.equal(belongsToWorkspace(old, ["/src/application"]), false);
    assert.equal(belongsToWorkspace(session({ name: "x", localPath: "/src/app/" }), ["/src/app"]), true);
  });
  it("falls back to the most recent", () => {
    assert.equal(currentSession([old, newest, newer], ["/elsewhere"])?.name, "newest");
  });
  it("is undefined without sessions", () => {
    assert.equal(currentSession([], ["/src/app"]), undefined);
  });
  it("treats an unparsable createdAt as oldest and breaks ties by name", () => {
    const a = session({ name: "b", createdAt: "garbage" });
    const b = session({ name: "a", createdAt: null });
    assert.deepEqual(sortSessions([a, b, newer], []).map((s) => s.name), ["newer", "a", "b"]);
  });
});

describe("sessionsForAction", () => {
  const failed = session({ name: "failed", status: "Failed", createdAt: "2026-11-25T00:00:00Z" });
  const all = [old, newer, newest, failed];
  const names = (action: Parameters<typeof sessionsForAction>[0]) => sessionsForAction(action, all, ["/src/other"]).map((s) => s.name);
  it("attach: running ones, workspace first", () => assert.deepEqual(names("attach"), ["newer", "old"]));
  it("stop: all but stopped", () => assert.deepEqual(names("stop"), ["newer", "failed", "old"]));
  it("resume: stopped and failed", () => assert.deepEqual(names("resume"), ["newest", "failed"]));
  it("delete: all", () => assert.equal(names("delete").length, 4));
});

describe("notifications", () => {
  it("applies a sync status to the named session only", () => {
    const st: SyncStatus = { name: "old", state: "watching", connected: true, conflicts: [], mutagenSession: "m" };
    const r = applySyncStatus([old, newer], { name: "old", status: st });
    assert.deepEqual(r[0]?.sync, st);
    assert.equal(r[1]?.sync, null);
  });
  it("reports the transition into waiting once", () => {
    const p: AgentStateParams = { name: "old", namespace: "dev", state: "waiting", message: "approve?", since: "t", exitCode: null };
    const first = applyAgentState([old, newer], p);
    assert.equal(first.becameWaiting, true);
    assert.equal(first.sessions[0]?.agent?.message, "approve?");
    assert.equal(applyAgentState(first.sessions, p).becameWaiting, false);
  });
  it("ignores another namespace's session of the same name", () => {
    const r = applyAgentState([old], { name: "old", namespace: "prod", state: "waiting" });
    assert.equal(r.becameWaiting, false);
    assert.equal(r.sessions[0]?.agent?.state, "working");
  });
  it("counts a waiting session not listed yet", () => {
    assert.equal(applyAgentState([], { name: "fresh", namespace: "dev", state: "waiting" }).becameWaiting, true);
    assert.equal(applyAgentState([], { name: "fresh", namespace: "dev", state: "working" }).becameWaiting, false);
  });
});

describe("validateSessionName", () => {
  it("accepts DNS-1123 labels", () => {
    assert.equal(validateSessionName("fix-login-2"), undefined);
    assert.equal(validateSessionName("a"), undefined);
  });
  it("rejects the rest", () => {
    for (const bad of ["", "Fix", "-a", "a-", "a_b", "a.b", "x".repeat(64)]) {
      assert.notEqual(validateSessionName(bad), undefined, bad);
    }
  });
});

describe("sessionNameFromArg", () => {
  it("reads strings, {name} and tree nodes", () => {
    assert.equal(sessionNameFromArg("a"), "a");
    assert.equal(sessionNameFromArg({ name: "b" }), "b");
    assert.equal(sessionNameFromArg({ session: { name: "c" } }), "c");
  });
  it("returns undefined for anything else", () => {
    for (const v of [undefined, null, "", 3, {}, { name: 1 }, { session: {} }]) {
      assert.equal(sessionNameFromArg(v), undefined);
    }
  });
});

describe("groupByFamily", () => {
  it("puts a fan-out's sessions under one family row, where its first session sorts", () => {
    const solo = session({ name: "solo" });
    const f10 = session({ name: "fix-10", family: "fix" });
    const f2 = session({ name: "fix-2", family: "fix" });
    const other = session({ name: "other" });
    const groups = groupByFamily([solo, f10, other, f2]);
    assert.deepEqual(
      groups.map((g) => (g.family === null ? g.session.name : `${g.family}: ${g.sessions.map((s) => s.name).join(",")}`)),
      ["solo", "fix: fix-2,fix-10", "other"],
    );
  });
  it("keeps families of different namespaces apart", () => {
    const a = session({ name: "fix-1", family: "fix", namespace: "a" });
    const b = session({ name: "fix-1", family: "fix", namespace: "b" });
    assert.equal(groupByFamily([a, b]).length, 2);
  });
  it("leaves sessions without a family alone", () => {
    const groups = groupByFamily([session({ name: "x", family: null }), session({ name: "y" })]);
    assert.deepEqual(
      groups.map((g) => g.family),
      [null, null],
    );
  });
});
