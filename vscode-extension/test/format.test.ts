import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import {
  fetchMessage,
  formatAge,
  sessionDetailLines,
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

describe("formatAge", () => {
  it("uses s/m/h/d like kubectl", () => {
    assert.equal(formatAge("2026-11-27T10:00:00Z", T0 + 45_000), "45s");
    assert.equal(formatAge("2026-11-27T10:00:00Z", T0 + 12 * 60_000), "12m");
    assert.equal(formatAge("2026-11-27T10:00:00Z", T0 + 3 * 3_600_000), "3h");
    assert.equal(formatAge("2026-11-27T10:00:00Z", T0 + 47 * 3_600_000), "47h");
    assert.equal(formatAge("2026-11-27T10:00:00Z", T0 + 49 * 3_600_000), "2d");
  });
  it("never goes negative and tolerates missing or bad input", () => {
    assert.equal(formatAge("2026-11-27T10:00:00Z", T0 - 5_000), "0s");
    assert.equal(formatAge(null, T0), "");
    assert.equal(formatAge("yesterday", T0), "");
  });
});

describe("status bar", () => {
  it("shows name, status and sync", () => {
    const s = session({ name: "fix", sync: { name: "fix", state: "watching", connected: true, conflicts: [] } });
    assert.equal(statusBarText(s, "running"), "$(vm-running) fix: Running · sync watching");
  });
  it("marks a waiting agent", () => {
    const s = session({ name: "fix", agent: { state: "waiting", message: "ok?" } });
    assert.equal(statusBarText(s, "running"), "$(bell-dot) fix: waiting");
    assert.match(statusBarTooltip(s, "running"), /Agent: waiting: ok\?/);
  });
  it("shortens a sync error", () => {
    const s = session({ name: "fix", sync: { name: "fix", state: "error", connected: false, lastError: "long story" } });
    assert.equal(statusBarText(s, "running"), "$(vm-running) fix: Running · sync error");
  });
  it("shows the server state when there is no session to show", () => {
    assert.equal(statusBarText(undefined, "running"), "$(cloud) Kodama");
    assert.equal(statusBarText(undefined, "starting"), "$(loading~spin) Kodama");
    assert.equal(statusBarText(session({ name: "x" }), "stopped"), "$(circle-slash) Kodama");
    assert.match(statusBarTooltip(undefined, "stopped"), /not running/);
  });
});

describe("syncSummary", () => {
  it("covers none, conflicts, disconnected and errors", () => {
    assert.equal(syncSummary(null), "not syncing");
    assert.equal(syncSummary({ name: "a", state: "watching", connected: true, conflicts: [{ path: "x" }] }), "sync watching, 1 conflict");
    assert.equal(
      syncSummary({ name: "a", state: "watching", connected: true, conflicts: [{ path: "x" }, { path: "y" }] }),
      "sync watching, 2 conflicts",
    );
    assert.equal(syncSummary({ name: "a", state: "connecting", connected: false }), "sync connecting (disconnected)");
    assert.equal(syncSummary({ name: "a", state: "error", connected: false, lastError: "boom" }), "sync error: boom");
  });
});

describe("tree items", () => {
  it("describes status, branch and age", () => {
    assert.equal(treeDescription(session({ name: "fix" }), T0 + 5 * 60_000), "Running · kodama/fix · 5m");
    assert.equal(treeDescription(session({ name: "x", branch: null, createdAt: null }), T0), "Running");
  });
  it("context values drive the menus", () => {
    assert.equal(treeContextValue(session({ name: "a", status: "Stopped" })), "kodamaSession.stopped");
    assert.equal(treeContextValue(session({ name: "a", agent: { state: "waiting" } })), "kodamaSession.running.waiting");
  });
  it("icons follow status, waiting first", () => {
    assert.equal(sessionIcon(session({ name: "a", status: "Failed" })), "error");
    assert.equal(sessionIcon(session({ name: "a", status: "Starting" })), "loading~spin");
    assert.equal(sessionIcon(session({ name: "a", status: "Stopped", agent: { state: "waiting" } })), "bell-dot");
  });
});

describe("messages", () => {
  it("detail lines include the failure reason and paths", () => {
    const lines = sessionDetailLines(session({ name: "a", status: "Failed", reason: "ImagePullBackOff", localPath: "/src/app" }), T0);
    assert.equal(lines[0], "Status: Failed: ImagePullBackOff");
    assert.ok(lines.includes("Local path: /src/app"));
    assert.ok(lines.includes("Branch: kodama/a (from main)"));
  });
  it("fetch and waiting messages", () => {
    assert.equal(
      fetchMessage("a", { branch: "kodama/a", commit: "0123456789abcdef", ahead: 1 }),
      "Fetched kodama/a from session a at 0123456789ab (1 commit ahead of its base).",
    );
    assert.equal(waitingMessage("a", "approve the plan"), "Session a is waiting for you: approve the plan");
    assert.equal(waitingMessage("a", null), "Session a is waiting for you.");
  });
});
