// Drives keyward's operator console and a one-time link in headless
// Chromium, as cmd/keyward/browser_test.go plans it (a JSON file named by
// KEYWARD_BROWSER_PLAN), and writes what it saw to KEYWARD_BROWSER_RESULT.
// The Go test plays the agents and checks the acts; this script is the
// operator's browser. It never downloads a browser: it runs the system's
// Chromium.
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(join(process.env.PLAYWRIGHT_DIR || process.cwd(), "noop.js"));
const { chromium } = require("playwright-core");

const plan = JSON.parse(readFileSync(process.env.KEYWARD_BROWSER_PLAN, "utf8"));
const result = { steps: [], cspViolations: [], pageErrors: [] };

function check(cond, msg) {
  if (!cond) throw new Error("check failed: " + msg);
}

async function shot(page, name) {
  if (plan.screenshots) {
    await page.screenshot({ path: join(plan.screenshots, name + ".png"), fullPage: false });
  }
  result.steps.push(name);
}

const profile = mkdtempSync(join(tmpdir(), "keyward-chromium-"));
let context;
let page;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: plan.chromium || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
    viewport: { width: 1280, height: 800 },
  });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: plan.base });
  page = context.pages()[0] || (await context.newPage());
  for (const p of [page]) {
    p.on("console", (m) => {
      if (/Content.Security.Policy|Refused to/i.test(m.text())) result.cspViolations.push(m.text());
    });
    p.on("pageerror", (e) => result.pageErrors.push(String(e)));
  }

  // Login: the console sends an unauthenticated visitor to it.
  await page.goto(plan.base + "/");
  check(page.url().includes("/login"), "the console asks for a login first, at " + page.url());
  await shot(page, "login");
  await page.fill("#token", "not the operator token");
  await page.click("button[type=submit]");
  await page.waitForSelector("text=That is not the operator token", { timeout: 5000 });
  await page.fill("#token", plan.token);
  await page.click("button[type=submit]");
  await page.waitForSelector("text=Log out");
  check((await page.textContent("h1")).trim() === "Keys", "after login: the keys page");
  check(!(await page.content()).includes("<img src=x"), "hostile names are not markup");
  await shot(page, "keys");

  await page.goto(plan.base + "/audit");
  await shot(page, "audit");
  await page.selectOption("select[name=outcome]", "awaiting_approval");
  await Promise.all([page.waitForURL(/outcome=awaiting_approval/), page.click("text=Filter")]);
  check(page.url().includes("outcome=awaiting_approval"), "the audit filter is in the URL");
  const rows = await page.locator("table.audit tbody tr").count();
  check(rows >= plan.approve.length + plan.deny.length, "the waiting acts are in the filtered audit log: " + rows);

  // Approvals: approve some, deny others.
  await page.goto(plan.base + "/approvals");
  for (const id of [...plan.approve, ...plan.deny]) {
    check(await page.locator("#r-" + id).count() === 1, "request " + id + " waits on the approvals page");
  }
  await shot(page, "approvals");
  for (const id of plan.approve) {
    await page.click(`#r-${id} button:has-text("Approve")`);
    await page.waitForSelector("text=Approved. The agent");
    check(await page.locator("#r-" + id).count() === 0, "an approved request no longer waits");
  }
  for (const id of plan.deny) {
    await page.click(`#r-${id} button:has-text("Deny")`);
    await page.waitForSelector("text=Denied. The agent");
  }
  await shot(page, "approvals-decided");

  // A one-time link: a second tab opens it too, before the first shows it.
  await page.goto(plan.link);
  check(await page.locator("text=Show the secret").count() === 1, "the link's page shows a button first");
  check(await page.locator("#secret").count() === 0, "no secret before the button");
  await shot(page, "reveal-before");
  const second = await context.newPage();
  await second.goto(plan.link);
  await page.click("text=Show the secret");
  await page.waitForSelector("#secret");
  result.secret = (await page.textContent("#secret")).trim();
  const copy = page.locator("button[data-copy]");
  check(await copy.isVisible(), "the copy button shows (its script runs under the page's CSP)");
  await copy.click();
  await page.waitForSelector("text=Copied");
  result.copied = await page.evaluate(() => navigator.clipboard.readText());
  await shot(page, "reveal-secret");
  await second.click("text=Show the secret");
  await second.waitForSelector("text=already viewed");
  check(await second.locator("#secret").count() === 0, "a second view shows no secret");
  await shot(second, "reveal-after");
  await second.close();

  // Emergency revoke: preview, then revoke.
  await page.goto(plan.base + "/emergency");
  await page.selectOption("#created_by", plan.emergency.createdBy);
  await page.click("text=Show what would be revoked");
  await page.waitForSelector("h1:has-text('Revoke these keys?')");
  for (const id of plan.emergency.keys) {
    check(await page.locator(`code:text-is("${id}")`).count() === 1, "the preview lists " + id);
  }
  for (const id of plan.emergency.keep) {
    check(await page.locator(`code:text-is("${id}")`).count() === 0, "the preview leaves out " + id);
  }
  await shot(page, "emergency-preview");
  await page.click("button.danger:has-text('Revoke these')");
  await page.waitForSelector(`text=Revoked (${plan.emergency.keys.length})`);
  await shot(page, "emergency-result");
  result.ok = true;
} catch (e) {
  result.ok = false;
  result.error = String(e && e.stack || e);
  if (page) result.error += "\nat " + page.url() + ":\n" + (await page.textContent("body").catch(() => "")).slice(0, 2000);
} finally {
  if (context) await context.close();
  rmSync(profile, { recursive: true, force: true });
  writeFileSync(process.env.KEYWARD_BROWSER_RESULT, JSON.stringify(result, null, 2));
}
process.exit(result.ok ? 0 : 1);
