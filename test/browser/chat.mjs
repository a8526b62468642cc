// chat.mjs drives Debian's Chromium through the chat page of
// examples/chat: it joins a room, sends a message, and waits for a message
// from someone else (a Go client in the same room, in the Go test that runs
// this script).
//
//   node chat.mjs [options] PAGE_URL
//
// PAGE_URL is the http:// URL of the chat page. The script opens it, waits
// for the socket to open, fills in room and nick, clicks Join, waits to
// see its own "joined" event, sends --send, waits to see it come back from
// the room, then waits for a message with text --expect from --expect-from.
// It prints one JSON line describing what happened and exits 0 if every
// expectation held, 1 otherwise.
//
// Options:
//   --room NAME         room to join (default "lobby")
//   --nick NICK         nickname (default "chromium")
//   --send TEXT         message to send once joined (default "Hello")
//   --expect TEXT       text of the message that must arrive
//   --expect-from NICK  its sender
//   --screenshot FILE   save a PNG of the page at the end
//   --timeout MS        how long each wait may take (default 20000)
//
// Environment: WSPIPE_CHROMIUM overrides the browser (default
// /usr/bin/chromium). Playwright never downloads a browser here.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = "1";
const { chromium } = await import("playwright-core");

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    room: { type: "string", default: "lobby" },
    nick: { type: "string", default: "chromium" },
    send: { type: "string", default: "Hello" },
    expect: { type: "string" },
    "expect-from": { type: "string" },
    screenshot: { type: "string" },
    timeout: { type: "string", default: "20000" },
  },
});
if (positionals.length !== 1 || opt.expect === undefined || opt["expect-from"] === undefined) {
  console.error("usage: node chat.mjs [--room NAME] [--nick NICK] [--send TEXT] --expect TEXT --expect-from NICK [--screenshot FILE] [--timeout MS] PAGE_URL");
  process.exit(2);
}
const pageURL = positionals[0];
const timeout = Number(opt.timeout);

const executablePath = process.env.WSPIPE_CHROMIUM || "/usr/bin/chromium";
const userDataDir = await mkdtemp(join(tmpdir(), "wspipe-chromium-"));
const result = { ok: false, page: pageURL, room: opt.room, nick: opt.nick, sent: opt.send };
const problems = [];
let context, page;

// messageArrived waits for a chat message from nick with exactly text in
// the page's log. Compared in the page, so no text needs CSS escaping.
const messageArrived = (nick, text) =>
  page.waitForFunction(
    ([nick, text]) => [...document.querySelectorAll("#log li.message")].some((li) => li.dataset.nick === nick && li.dataset.text === text),
    [nick, text],
    { timeout },
  );

try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    timeout,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(timeout);
  page.on("console", (m) => console.error(`[page console] ${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));

  const resp = await page.goto(pageURL, { waitUntil: "load" });
  result.status = resp?.status();
  result.contentType = resp?.headers()["content-type"];
  result.browser = context.browser()?.version();

  // Wait for the socket to open, failing at once if it closes instead.
  const state = page.locator("#state");
  await page.locator('#state[data-state="open"], #state[data-state="reconnecting"]').waitFor();
  if ((await state.getAttribute("data-state")) !== "open") throw new Error("the connection did not open: " + (await state.textContent()));

  await page.locator("#room").fill(opt.room);
  await page.locator("#nick").fill(opt.nick);
  await page.locator("#join").click();
  await page.waitForFunction(
    (nick) => [...document.querySelectorAll("#log li.joined")].some((li) => li.dataset.nick === nick),
    opt.nick,
    { timeout },
  );
  result.members = await page.locator("#members").textContent();

  // The send box is enabled once the page has seen its own join.
  await page.locator("#text").fill(opt.send);
  await page.locator("#send").click();
  await messageArrived(opt.nick, opt.send);
  await messageArrived(opt["expect-from"], opt.expect);

  result.state = await state.getAttribute("data-state");
  if (result.state !== "open") problems.push(`connection ${result.state} at the end`);
  if (opt.screenshot) await page.screenshot({ path: opt.screenshot, fullPage: true });
} catch (err) {
  problems.push(String(err?.message ?? err));
} finally {
  if (page) {
    result.state ??= await page.locator("#state").getAttribute("data-state", { timeout: 1000 }).catch(() => undefined);
    result.log = await page.locator("#log li").allTextContents().catch(() => undefined);
  }
  if (context) await context.close().catch(() => {});
  await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
}

result.ok = problems.length === 0;
if (!result.ok) result.problems = problems;
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
