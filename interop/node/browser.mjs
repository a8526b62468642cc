// browser.mjs drives Debian's headless Chromium as an interop peer for
// wspipe's Go tests: it opens PAGE_URL (interop/node/page.html, served by
// the test from an origin other than the WebSocket server's), then reads
// one JSON object a line from stdin, {"id","url","protocols"}, and has the
// page open that WebSocket and follow the peer protocol of interop/doc.go.
// The page's reports come out as JSON lines on stdout, after a first line
// {"event":"ready","browser":VERSION,"origin":PAGE_ORIGIN}.
//
//   node browser.mjs [--spki HASH] PAGE_URL
//
// --spki trusts a self-signed certificate by the base64 SHA-256 of its
// public key (Chromium's --ignore-certificate-errors-spki-list), for wss://.
// WSPIPE_CHROMIUM overrides the browser (default /usr/bin/chromium). It
// exits when stdin ends.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = "1";
const { chromium } = await import("playwright-core");

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: { spki: { type: "string" } },
});
if (positionals.length !== 1) {
  console.error("usage: node browser.mjs [--spki HASH] PAGE_URL");
  process.exit(2);
}
const report = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const args = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
if (opt.spki) args.push("--ignore-certificate-errors-spki-list=" + opt.spki);

const userDataDir = await mkdtemp(join(tmpdir(), "wspipe-interop-chromium-"));
let context;
async function shutdown(code) {
  if (context) await context.close().catch(() => {});
  await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
  process.exit(code);
}

try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.WSPIPE_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    timeout: 30000,
    args,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (m) => console.error(`[page console] ${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => console.error(`[page error] ${e.message}`));
  await page.exposeFunction("wspipeReport", report);
  await page.goto(positionals[0], { waitUntil: "load", timeout: 30000 });
  report({
    event: "ready",
    browser: context.browser()?.version() ?? "",
    origin: await page.evaluate(() => location.origin),
  });
  const rl = createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    const { id, url, protocols } = JSON.parse(line);
    page
      .evaluate(([id, url, protocols]) => startPeer(id, url, protocols), [id, url, protocols ?? []])
      .catch((e) => report({ id, event: "error", error: String(e?.message ?? e) }));
  });
  rl.on("close", () => shutdown(0));
} catch (e) {
  report({ event: "error", error: String(e?.message ?? e) });
  await shutdown(1);
}
