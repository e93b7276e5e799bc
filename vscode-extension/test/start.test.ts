import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { chosenName, startArgs, startOptionItems } from "../src/logic/start";

const base = { name: "fix-login", root: "/src/app", prompt: "", branch: "", image: "" };

describe("start flow", () => {
  it("sends only what the user set", () => {
    assert.deepEqual(startArgs(base), { name: "fix-login", root: "/src/app" });
    assert.deepEqual(startArgs({ ...base, prompt: " fix it ", branch: "wip", image: "img:1" }), {
      name: "fix-login",
      root: "/src/app",
      prompt: "fix it",
      branch: "wip",
      image: "img:1",
    });
  });
  it("puts Start first, so Enter starts", () => {
    const items = startOptionItems(base);
    assert.deepEqual(
      items.map((i) => i.option),
      ["start", "branch", "image"],
    );
    assert.match(items[0]?.label ?? "", /Start fix-login/);
    assert.match(items[0]?.description ?? "", /interactive/);
    assert.match(startOptionItems({ ...base, prompt: "do\nthings" })[0]?.description ?? "", /^headless: do things$/);
    assert.equal(startOptionItems({ ...base, branch: "wip" })[1]?.description, "wip");
  });
  it("an emptied name box falls back to the suggestion", () => {
    assert.equal(chosenName("  ", "main"), "main");
    assert.equal(chosenName(" mine ", "main"), "mine");
  });
});
