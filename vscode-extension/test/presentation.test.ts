// The extension against tests/fixtures/presentation.json, the golden file kodama/present.py is
// tested against: it shows the server's `display` as given, and what it still computes itself
// (the ticking age, the input box's name check) gives the engine's answers.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import {
  agentCell,
  familySummary,
  formatAge,
  quickPickDetail,
  sessionDetailLines,
  sessionsSummary,
  statusBarText,
  treeContextValue,
  treeDescription,
} from "../src/logic/format";
import { MAX_SESSION_NAME, type SessionAction, sessionsForAction, validateSessionName } from "../src/logic/sessions";
import { golden, session } from "./fixtures";

const NOW = Date.parse(golden.now);
const LATER = Date.parse(golden.later);

describe("golden: age", () => {
  for (const c of golden.age) {
    it(`${c.createdAt} -> ${c.age}`, () => assert.equal(formatAge(c.createdAt, NOW), c.age));
  }
  it("an unparsable time reads as unknown", () => {
    for (const bad of golden.ageUnparsable) {
      assert.equal(formatAge(bad, NOW), "-");
    }
  });
});

describe("golden: session names", () => {
  it("has the engine's length limit", () => assert.equal(MAX_SESSION_NAME, golden.sessionName.maxLength));
  for (const c of golden.sessionName.cases) {
    it(`${JSON.stringify(c.name)} is ${c.valid ? "valid" : "refused"}`, () =>
      assert.equal(validateSessionName(c.name) === undefined, c.valid));
    it(`${JSON.stringify(c.name)}: the input box says the fixture's words`, () => assert.equal(validateSessionName(c.name) ?? null, c.problem));
  }
});

describe("golden: summaries of the sessions held", () => {
  for (const c of golden.summaries) {
    const sessions = c.sessions.map((x, i) =>
      session({ name: `s${i}`, status: x.status, agent: { state: x.agent, message: null, since: null, exitCode: null } }),
    );
    it(`${JSON.stringify(c.sessions)} -> "${c.summary}" / "${c.family}"`, () => {
      assert.equal(sessionsSummary(sessions), c.summary);
      assert.equal(familySummary(sessions), c.family);
    });
  }
});

// Menu command -> the display.actions verb that must be offered for it to show ("*": any session;
// wait outlasts a restart of the pod).
const MENU_VERB: Record<string, string> = {
  "kodama.attachSession": "attach",
  "kodama.showLogs": "logs",
  "kodama.followLogs": "logs",
  "kodama.waitForAgent": "*",
  "kodama.syncStatus": "sync",
  "kodama.syncPause": "sync",
  "kodama.syncResume": "sync",
  "kodama.syncPush": "sync",
  "kodama.syncPull": "sync",
  "kodama.fetchSession": "fetch",
  "kodama.stopSession": "stop",
  "kodama.resumeSession": "resume",
  "kodama.deleteSession": "delete",
};

interface MenuItem {
  command: string;
  when: string;
}

function itemMenus(): MenuItem[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "..", "package.json"), "utf8")) as {
    contributes: { menus: Record<string, MenuItem[]> };
  };
  return pkg.contributes.menus["view/item/context"] ?? [];
}

function viewItemRegex(when: string): RegExp {
  const m = /viewItem =~ \/(.*)\/(?:\s|$)/.exec(when);
  assert.ok(m, `no viewItem regex in ${when}`);
  return new RegExp(m[1]);
}

describe("golden: sessions are shown in the server's words", () => {
  for (const c of golden.sessions) {
    const s = { ...c.session, display: c.display };
    describe(c.case, () => {
      it("the ticking age starts where the server's age is", () => assert.equal(formatAge(s.createdAt, NOW), c.display.age));
      it("tree description: the server's status line", () => {
        const d = treeDescription(s, NOW);
        assert.ok(d.startsWith(c.display.status), d);
        if (c.display.age !== "-") {
          assert.ok(d.endsWith(` · ${c.display.age}`), d);
        }
      });
      it("details: the server's lines", () => assert.deepEqual(sessionDetailLines(s), c.display.detail));
      it("the agent cell ticks from agentLabel and agentSince", () => {
        assert.equal(agentCell(s.display, NOW), c.display.agent);
        assert.equal(agentCell(s.display, LATER), c.agentLater);
        if (c.display.agent !== "-") {
          assert.ok(quickPickDetail(s, LATER).includes(`agent ${c.agentLater}`), quickPickDetail(s, LATER));
        }
        if (s.agent?.state === "waiting") {
          assert.ok(treeDescription(s, LATER).includes(` · ${c.agentLater} · `), treeDescription(s, LATER));
        }
      });
      it("status bar: the server's sync cell", () => {
        const text = statusBarText(s, "running");
        assert.equal(text.includes(`sync ${c.display.sync}`), s.sync !== null && s.sync !== undefined, text);
      });
      it("tree menus offer exactly display.actions", () => {
        const value = treeContextValue(s);
        const menus = itemMenus();
        assert.ok(menus.length > 0);
        for (const m of menus) {
          const verb = MENU_VERB[m.command];
          assert.ok(verb, `menu command ${m.command} has no verb`);
          const offered = verb === "*" || c.display.actions.includes(verb as never);
          assert.equal(viewItemRegex(m.when).test(value), offered, `${m.command} on ${value}`);
        }
      });
      it("pickers offer exactly display.actions", () => {
        const actions: [SessionAction, string][] = [
          ["attach", "attach"],
          ["stop", "stop"],
          ["resume", "resume"],
          ["delete", "delete"],
          ["fetch", "fetch"],
          ["syncStatus", "sync"],
          ["sync", "sync"],
          ["logs", "logs"],
        ];
        for (const [action, verb] of actions) {
          const offered = sessionsForAction(action, [s], []).length === 1;
          assert.equal(offered, c.display.actions.includes(verb as never), action);
        }
        assert.equal(sessionsForAction("wait", [s], []).length, 1);
      });
    });
  }
});
