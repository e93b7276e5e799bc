import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import {
  fetchMessage,
  sessionIcon,
  statusBarText,
  statusBarTooltip,
  syncSummary,
  treeContextValue,
  treeDescription,
  waitingMessage,
} from "../src/logic/format";
import { session } from "./fixtures";

const T0 = Date.parse("2026-11-27T10:00:00Z");

describe("status bar", () => {
  it("shows name, status and sync", () => {
    const s = session({ name: "fix", sync: { name: "fix", state: "watching", connected: true, conflicts: [] } });
    assert.equal(statusBarText(s, "running"), "$(vm-running) fix: Running · sync watching");
  });
  it("marks a waiting agent", () => {
    const s = session({ name: "fix", agent: { state: "waiting", message: "ok?" } });
    assert.equal(statusBarText(s, "running"), "$(bell-dot) fix: waiting");
    assert.ok(statusBarTooltip(s, "running").includes(s.display?.detail.join("\n") ?? "?"));
  });
  it("shows the server's sync cell, not the error itself", () => {
    const base = session({ name: "fix", sync: { name: "fix", state: "halted", connected: false, lastError: "long story" } });
    const s = { ...base, display: { ...base.display!, sync: "halted, error" } };
    assert.equal(statusBarText(s, "running"), "$(vm-running) fix: Running · sync halted, error");
  });
  it("shows the server state when there is no session to show", () => {
    assert.equal(statusBarText(undefined, "running"), "$(cloud) Kodama");
    assert.equal(statusBarText(undefined, "starting"), "$(loading~spin) Kodama");
    assert.equal(statusBarText(session({ name: "x" }), "stopped"), "$(circle-slash) Kodama");
    assert.match(statusBarTooltip(undefined, "stopped"), /not running/);
  });
});

describe("syncSummary", () => {
  it("is the server's summary of a sync result", () => {
    const st = { name: "a", state: "watching" as const, connected: true, display: { summary: "watching, 1 conflict", detail: [] } };
    assert.equal(syncSummary(st), "watching, 1 conflict");
    assert.equal(syncSummary({ name: "a", state: "paused", connected: false }), "paused");
  });
});

describe("tree items", () => {
  it("describes status, branch and age", () => {
    assert.equal(treeDescription(session({ name: "fix" }), T0 + 5 * 60_000), "Running · kodama/fix · 5m");
    assert.equal(treeDescription(session({ name: "x", branch: null, createdAt: null }), T0), "Running");
  });
  it("context values drive the menus", () => {
    assert.equal(treeContextValue(session({ name: "a", status: "Stopped" })), "kodamaSession:resume:delete:");
    assert.equal(
      treeContextValue(session({ name: "a", agent: { state: "waiting" } })),
      "kodamaSession:attach:logs:fetch:sync:stop:delete:waiting:",
    );
  });
  it("icons follow status, waiting first", () => {
    assert.equal(sessionIcon(session({ name: "a", status: "Failed" })), "error");
    assert.equal(sessionIcon(session({ name: "a", status: "Starting" })), "loading~spin");
    assert.equal(sessionIcon(session({ name: "a", status: "Stopped", agent: { state: "waiting" } })), "bell-dot");
  });
});

describe("messages", () => {
  it("fetch and waiting messages", () => {
    assert.equal(
      fetchMessage("a", { branch: "kodama/a", commit: "0123456789abcdef", ahead: 1 }),
      "Fetched kodama/a from session a at 0123456789ab (1 commit ahead of its base).",
    );
    const summary = "Fetched kodama/a into kodama/a of /src/app (0123456789ab, 1 commit ahead of main)";
    assert.equal(fetchMessage("a", { branch: "kodama/a", commit: "0123456789abcdef", ahead: 1, display: { summary } }), summary);
    assert.equal(waitingMessage("a", "approve the plan"), "Session a is waiting for you: approve the plan");
    assert.equal(waitingMessage("a", null), "Session a is waiting for you.");
  });
});
