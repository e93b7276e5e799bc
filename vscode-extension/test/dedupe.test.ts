import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { MessageDeduper, errorMessage } from "../src/logic/dedupe";
import { WaitingPrompts } from "../src/logic/waiting";

describe("MessageDeduper", () => {
  it("shows a message once per window", () => {
    let now = 0;
    const d = new MessageDeduper(1000, () => now);
    assert.equal(d.shouldShow("session x not found"), true);
    assert.equal(d.shouldShow("session x not found "), false);
    assert.equal(d.shouldShow("other"), true);
    now = 1500;
    assert.equal(d.shouldShow("session x not found"), true);
  });
});

describe("errorMessage", () => {
  it("keeps the first line", () => {
    assert.equal(errorMessage(new Error("forbidden: cannot create pods\nhint")), "forbidden: cannot create pods");
    assert.equal(errorMessage({ code: 1, message: "plain object" }), "plain object");
    assert.equal(errorMessage("text"), "text");
  });
});

describe("WaitingPrompts", () => {
  it("defers to the server's own prompt", () => {
    const w = new WaitingPrompts(5000);
    assert.equal(w.noteServerRequest("Session fix is waiting for you: approve?", 1000), true);
    assert.equal(w.clientShouldPrompt("fix", 2000), false);
    assert.equal(w.clientShouldPrompt("other", 2000), true);
    assert.equal(w.clientShouldPrompt("fix", 60_000), true);
  });
  it("ignores unrelated requests", () => {
    const w = new WaitingPrompts();
    assert.equal(w.noteServerRequest("Delete Kodama session fix?", 0), false);
    assert.equal(w.clientShouldPrompt("fix", 0), true);
  });
});
