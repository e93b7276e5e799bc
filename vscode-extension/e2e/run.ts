// Drives a real VS Code (code-server in Debian's Chromium, through playwright-core):
// Start Session from the command palette with Enter presses only (the suggested name), wait
// for the pod, Attach opens a terminal,
// screenshot of the workbench with the status-bar item, the agent log, the configuration and the
// RBAC Role open as titled read-only `kodama:` documents, Delete Session through its modal.
// Launched by scripts/e2e.sh.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { chromium, type Page } from "playwright-core";

function env(name: string): string {
  const v = process.env[name];
  if (!v) {
    throw new Error(`e2e: ${name} is not set`);
  }
  return v;
}

const url = env("E2E_URL");
const workspace = env("E2E_WORKSPACE");
const sessionName = env("E2E_SESSION");
const kubeconfig = env("KUBECONFIG_PATH");
const namespace = env("KODAMA_NAMESPACE");
const artifacts = env("E2E_ARTIFACTS");
const startTimeoutMs = Number(process.env.E2E_START_TIMEOUT_MS ?? 300_000);

function log(msg: string): void {
  process.stderr.write(`e2e: ${msg}\n`);
}

async function step<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
  const t0 = Date.now();
  log(`${name}…`);
  const r = await fn();
  log(`${name}: ok (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return r;
}

function kubectl(...args: string[]): string {
  return execFileSync("kubectl", ["--kubeconfig", kubeconfig, "-n", namespace, ...args], {
    encoding: "utf8",
    env: { ...process.env, KUBECACHEDIR: process.env.KUBECACHEDIR ?? path.join(artifacts, ".kube-cache") },
  });
}

/** Runs a palette command by its title ("Kodama: …") through F1. */
async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input.input");
  await input.waitFor({ state: "visible" });
  await input.fill(`>${title}`);
  const row = page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first();
  await row.waitFor({ state: "visible", timeout: 30_000 });
  await page.keyboard.press("Enter");
}

async function main(): Promise<void> {
  fs.mkdirSync(artifacts, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.setDefaultTimeout(60_000);
  try {
    await step("workbench loads", async () => {
      await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`);
      await page.locator(".monaco-workbench").waitFor({ state: "visible", timeout: 120_000 });
    });

    const statusItem = page.locator(".statusbar-item", { hasText: "Kodama" }).or(
      page.locator(".statusbar-item", { hasText: sessionName }),
    );
    await step("Kodama status-bar item appears (extension active)", () =>
      statusItem.first().waitFor({ state: "visible", timeout: 120_000 }),
    );

    await step("clear earlier notifications", async () => {
      const toasts = await page.locator(".notifications-toasts .notification-toast").allInnerTexts();
      if (toasts.length) {
        log(`notifications before start: ${JSON.stringify(toasts.map((t) => t.replace(/\s+/g, " ")))}`);
      }
      await runCommand(page, "Notifications: Clear All Notifications");
    });

    // Only Enter presses: the name box holds the suggestion (the repository's branch is named
    // after the session), the prompt stays empty (interactive), the last pick's default is Start.
    await step("Start Session from the palette, Enter, Enter, Enter", async () => {
      await runCommand(page, "Kodama: Start Session");
      const input = page.locator(".quick-input-widget input.input");
      await page.locator(".quick-input-widget", { hasText: "Session name" }).waitFor({ state: "visible" });
      // The box opens once the server answered kodama.session.suggestName, pre-filled.
      const suggested = await input.inputValue();
      log(`suggested name: ${JSON.stringify(suggested)}`);
      if (suggested !== sessionName) {
        throw new Error(`suggested ${JSON.stringify(suggested)}, expected ${JSON.stringify(sessionName)}`);
      }
      await page.keyboard.press("Enter");
      await page.locator(".quick-input-widget", { hasText: "Task for the agent" }).waitFor({ state: "visible" });
      await page.keyboard.press("Enter");
      const startRow = page.locator(".quick-input-list .monaco-list-row", { hasText: `Start ${sessionName}` }).first();
      await startRow.waitFor({ state: "visible" });
      await page.keyboard.press("Enter");
    });

    // Either the success message or any error toast (the server's one-line error).
    const started = await step("session started (notification)", async () => {
      const done = page
        .locator(".notifications-toasts .notification-toast", { hasText: `Kodama session ${sessionName} is` })
        .or(page.locator(".notifications-toasts .notification-toast", { has: page.locator(".codicon-error") }))
        .first();
      await done.waitFor({ state: "visible", timeout: startTimeoutMs });
      return (await done.innerText()).replace(/\s+/g, " ");
    });
    log(`notification: ${started}`);
    if (!started.includes(`Kodama session ${sessionName} is Running`)) {
      throw new Error(`start did not report Running: ${started}`);
    }

    // E2E_SKIP_CLUSTER=1: a dry run of the UI against a fake server (no control plane).
    await step("session exists and its pod is Running on the control plane", () => {
      if (process.env.E2E_SKIP_CLUSTER === "1") {
        return;
      }
      const objects = kubectl("get", "pods,pvc,secrets", "-o", "name").split("\n").filter((l) => l.includes(sessionName));
      log(`objects of ${sessionName}: ${objects.join(", ")}`);
      const out = kubectl("get", "pods", "-o", "custom-columns=NAME:.metadata.name,PHASE:.status.phase", "--no-headers");
      log(`kubectl get pods:\n${out.trim()}`);
      const line = out.split("\n").find((l) => l.includes(sessionName));
      if (!line || !/\bRunning\b/.test(line)) {
        throw new Error(`no Running pod for ${sessionName} in ${namespace}`);
      }
    });

    await step("status bar shows the session", () =>
      page.locator(".statusbar-item", { hasText: `${sessionName}: Running` }).first().waitFor({ state: "visible", timeout: 60_000 }),
    );

    await step("tree view lists the session", async () => {
      await runCommand(page, "Explorer: Focus on Kodama Sessions View");
      await page.locator(".monaco-list-row", { hasText: sessionName }).first().waitFor({ state: "visible", timeout: 30_000 });
    });

    await step("Attach to Session opens a terminal", async () => {
      await runCommand(page, "Kodama: Attach to Session");
      const row = page.locator(".quick-input-list .monaco-list-row", { hasText: sessionName }).first();
      await row.waitFor({ state: "visible" });
      await row.click();
      await page.locator(".terminal-wrapper .xterm").first().waitFor({ state: "visible", timeout: 60_000 });
      // The terminal is the one the server asked for (kodama/openTerminal's title names the session).
      await page.locator(".part.panel", { hasText: sessionName }).first().waitFor({ state: "visible", timeout: 30_000 });
      // The attach command must keep running (an attached agent), not exit at once.
      await page.waitForTimeout(5_000);
      const died = page.locator(".notifications-toasts .notification-toast", { hasText: "terminated with exit code" });
      if (await died.count()) {
        throw new Error(`the attach terminal exited: ${(await died.first().innerText()).replace(/\s+/g, " ")}`);
      }
      await page.locator(".terminal-wrapper .xterm").first().waitFor({ state: "visible", timeout: 1_000 });
    });

    await page.screenshot({ path: path.join(artifacts, "vscode-e2e.png") });
    log(`screenshot: ${path.join(artifacts, "vscode-e2e.png")}`);

    // Each opens a `kodama:` document: a tab titled with its file name, text from the server,
    // refused edits (a content provider's documents are read-only).
    const openDoc = async (title: string, tab: string, text: string, pick?: string): Promise<void> => {
      await runCommand(page, title);
      if (pick) {
        const row = page.locator(".quick-input-list .monaco-list-row", { hasText: pick }).first();
        await row.waitFor({ state: "visible" });
        await row.click();
      }
      await page.locator(".tabs-container .tab.active", { hasText: tab }).waitFor({ state: "visible", timeout: 60_000 });
      const editor = page.locator(".editor-group-container.active .monaco-editor").first();
      await editor.locator(".view-lines", { hasText: text }).waitFor({ state: "visible", timeout: 30_000 });
      await editor.locator(".view-lines").click();
      await page.keyboard.type("zz");
      await page.locator(".monaco-editor-overlaymessage", { hasText: "read-only" }).first().waitFor({ state: "visible", timeout: 10_000 });
      if ((await editor.locator(".view-lines").innerText()).includes("zz")) {
        throw new Error(`${tab} took an edit`);
      }
      await runCommand(page, "Kodama: Refresh Document");
      await editor.locator(".view-lines", { hasText: text }).waitFor({ state: "visible", timeout: 30_000 });
    };
    // An interactive session has no headless log: the server's one line, no document.
    await step("Show Agent Log of an interactive session says why there is no log", async () => {
      await runCommand(page, "Notifications: Clear All Notifications");
      await runCommand(page, "Kodama: Show Agent Log");
      const row = page.locator(".quick-input-list .monaco-list-row", { hasText: sessionName }).first();
      await row.waitFor({ state: "visible" });
      await row.click();
      const toast = page.locator(".notifications-toasts .notification-toast", { hasText: "has no headless run log" }).first();
      await toast.waitFor({ state: "visible", timeout: 60_000 });
      const text = (await toast.innerText()).replace(/\s+/g, " ");
      if (text.includes("cannot open")) {
        throw new Error(`not the server's line: ${text}`);
      }
      await runCommand(page, "Notifications: Clear All Notifications");
    });
    await step("Show Merged Configuration opens kodama:/config.yaml, read-only", () =>
      openDoc("Kodama: Show Merged Configuration", "config.yaml", "Kodama configuration (merged)"),
    );
    await step("Show RBAC Role opens kodama:/rbac.yaml, read-only", () =>
      openDoc("Kodama: Show RBAC Role", "rbac.yaml", "kind: Role", "The Role alone"),
    );

    await step("Delete Session (modal, then the pod goes away)", async () => {
      await runCommand(page, "Notifications: Clear All Notifications");
      await runCommand(page, "Kodama: Delete Session");
      const row = page.locator(".quick-input-list .monaco-list-row", { hasText: sessionName }).first();
      await row.waitFor({ state: "visible" });
      await row.click();
      const dialog = page.locator(".monaco-dialog-box", { hasText: `Delete Kodama session ${sessionName}?` });
      await dialog.waitFor({ state: "visible" });
      await dialog.locator(".monaco-button", { hasText: "Delete" }).first().click();
      await page
        .locator(".notifications-toasts .notification-toast", { hasText: `Kodama session ${sessionName} deleted` })
        .waitFor({ state: "visible", timeout: 120_000 });
      // Pods and PVCs may linger a moment while terminating (pvc-protection finalizer).
      let left: string[] = [];
      for (let i = 0; i < 60; i++) {
        left = kubectl("get", "pods,pvc", "-o", "name").split("\n").filter((l) => l.includes(sessionName));
        if (left.length === 0) {
          return;
        }
        await page.waitForTimeout(1_000);
      }
      throw new Error(`left after delete: ${left.join(", ")}`);
    });
  } catch (err) {
    await page.screenshot({ path: path.join(artifacts, "vscode-e2e-failure.png") }).catch(() => undefined);
    log(`failure screenshot: ${path.join(artifacts, "vscode-e2e-failure.png")}`);
    throw err;
  } finally {
    await browser.close();
  }
}

main().then(
  () => log("passed"),
  (err: unknown) => {
    log(`FAILED: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
