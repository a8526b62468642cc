// chat-cluster.mjs drives Debian's Chromium through two chat pages of
// examples/chat served by two different chat nodes of one cluster, and
// checks that one page resumes without a gap after its node dies.
//
//   node chat-cluster.mjs [options] PAGE1_URL PAGE2_URL
//
// Page 1 joins --room as "alice", page 2 as "bob". alice says "one" and
// bob sees it; bob says "two" and alice sees it. Then the script prints
// the line {"step":"kill"} and waits for a line on standard input: the Go
// test kills page 1's node meanwhile. bob says "three" while alice is
// reconnecting; alice must get it once her page has reconnected (to
// another node) and resumed; then alice says "four" and bob must see it.
// Last, each page's log must hold its room events with consecutive seq
// numbers, none twice, and each message once. It prints one JSON line
// describing what happened and exits 0 if every expectation held, 1
// otherwise.
//
// Options:
//   --room NAME        room to join (default "cluster")
//   --timeout MS       how long each wait may take (default 30000)
//
// Environment: WSPIPE_CHROMIUM overrides the browser (default
// /usr/bin/chromium). Playwright never downloads a browser here.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = "1";
const { chromium } = await import("playwright-core");

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    room: { type: "string", default: "cluster" },
    timeout: { type: "string", default: "30000" },
  },
});
if (positionals.length !== 2) {
  console.error("usage: node chat-cluster.mjs [--room NAME] [--timeout MS] PAGE1_URL PAGE2_URL");
  process.exit(2);
}
const timeout = Number(opt.timeout);
const executablePath = process.env.WSPIPE_CHROMIUM || "/usr/bin/chromium";
const userDataDir = await mkdtemp(join(tmpdir(), "wspipe-chromium-"));
const result = { ok: false, room: opt.room };
const problems = [];
let context;

// One line of standard input at a time.
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

const messageArrived = (page, nick, text) =>
  page.waitForFunction(
    ([nick, text]) => [...document.querySelectorAll("#log li.message")].some((li) => li.dataset.nick === nick && li.dataset.text === text),
    [nick, text],
    { timeout },
  );

async function open(url, nick) {
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  page.on("console", (m) => console.error(`[${nick} console] ${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`${nick}: page error: ${e.message}`));
  await page.goto(url, { waitUntil: "load" });
  await page.locator('#state[data-state="open"]').waitFor();
  await page.locator("#room").fill(opt.room);
  await page.locator("#nick").fill(nick);
  await page.locator("#join").click();
  await page.locator("#text:not([disabled])").waitFor();
  return page;
}

async function say(page, text) {
  await page.locator("#text:not([disabled])").waitFor();
  await page.locator("#text").fill(text);
  await page.locator("#send").click();
}

// check reads a page's log and reports what is wrong with it.
async function check(page, nick) {
  const log = await page.locator("#log li").evaluateAll((lis) =>
    lis.map((li) => ({ cls: li.className, seq: Number(li.dataset.seq || 0), nick: li.dataset.nick, text: li.dataset.text })),
  );
  const seqs = log.filter((e) => e.seq > 0).map((e) => e.seq);
  for (let i = 1; i < seqs.length; i++) {
    if (seqs[i] !== seqs[i - 1] + 1) problems.push(`${nick}: seq ${seqs[i]} after ${seqs[i - 1]}`);
  }
  for (const text of ["one", "two", "three", "four"]) {
    const n = log.filter((e) => e.cls === "message" && e.text === text).length;
    if (n !== 1) problems.push(`${nick}: "${text}" shown ${n} times`);
  }
  if (log.some((e) => e.cls === "gap")) problems.push(`${nick}: a gap was reported`);
  return log.map((e) => `${e.seq} ${e.cls} ${e.nick ?? ""} ${e.text ?? ""}`.trim());
}

try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    timeout,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  result.browser = context.browser()?.version();
  const alice = await open(positionals[0], "alice");
  const bob = await open(positionals[1], "bob");

  await say(alice, "one");
  await messageArrived(bob, "alice", "one");
  await say(bob, "two");
  await messageArrived(alice, "bob", "two");

  console.log(JSON.stringify({ step: "kill" }));
  const ack = await lines.next();
  if (ack.done) throw new Error("standard input ended before the node was killed");
  await alice.locator('#state:not([data-closes="0"])').waitFor();
  result.aliceClosed = await alice.locator("#state").textContent();

  await say(bob, "three");
  await messageArrived(alice, "bob", "three");
  await alice.locator('#state[data-state="open"]').waitFor();
  await say(alice, "four");
  await messageArrived(bob, "alice", "four");
  await messageArrived(alice, "alice", "four");

  result.alice = await check(alice, "alice");
  result.bob = await check(bob, "bob");
} catch (err) {
  problems.push(String(err?.message ?? err));
} finally {
  if (context) await context.close().catch(() => {});
  await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
}

result.ok = problems.length === 0;
if (!result.ok) result.problems = problems;
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
