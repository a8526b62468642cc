// run.mjs drives Debian's Chromium through the echo console page, the way
// the tutorial's reader uses a browser against the echo server.
//
//   node run.mjs [options] PAGE_URL
//
// PAGE_URL is the http:// URL of a console page (cmd/echo serves one on its
// WebSocket path). The script opens it, waits for the socket to open, sends
// a message and waits for the expected reply to appear in #log as an
// <li class="recv">. It prints one JSON line describing what happened and
// exits 0 if every expectation held, 1 otherwise.
//
// Options:
//   --send TEXT       message to type into the page and send (default
//                     "Hello"). If PAGE_URL carries ?send=..., the page
//                     sends that itself and nothing is typed.
//   --expect TEXT     reply that must arrive (default: the message sent)
//   --binary          tick the page's "binary" box before sending
//   --console         also run the tutorial's console snippet in the page:
//                     new WebSocket(url), onmessage, send(TEXT)
//   --expect-refused  the connection must fail instead: the page must end
//                     "closed" without ever opening, and nothing may arrive
//   --screenshot FILE save a PNG of the page at the end
//   --timeout MS      how long each wait may take (default 20000)
//   --ignore-cert     accept the server's certificate whatever it is (for
//                     cmd/echo -tls-dev's self-signed one)
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
    send: { type: "string", default: "Hello" },
    expect: { type: "string" },
    binary: { type: "boolean", default: false },
    console: { type: "boolean", default: false },
    "expect-refused": { type: "boolean", default: false },
    screenshot: { type: "string" },
    timeout: { type: "string", default: "20000" },
    "ignore-cert": { type: "boolean", default: false },
  },
});
if (positionals.length !== 1) {
  console.error("usage: node run.mjs [--send TEXT] [--expect TEXT] [--binary] [--console] [--expect-refused] [--screenshot FILE] [--timeout MS] [--ignore-cert] PAGE_URL");
  process.exit(2);
}
const pageURL = positionals[0];
const timeout = Number(opt.timeout);
const pageSends = new URL(pageURL).searchParams.has("send");
const sent = pageSends ? new URL(pageURL).searchParams.get("send") : opt.send;
const expected = opt.expect ?? sent;

const executablePath = process.env.WSPIPE_CHROMIUM || "/usr/bin/chromium";
const userDataDir = await mkdtemp(join(tmpdir(), "wspipe-chromium-"));
const result = { ok: false, page: pageURL, sent, expected };
const problems = [];
let context, page;

try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    timeout,
    ignoreHTTPSErrors: opt["ignore-cert"],
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...(opt["ignore-cert"] ? ["--ignore-certificate-errors"] : []),
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(timeout);
  page.on("console", (m) => console.error(`[page console] ${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));

  const resp = await page.goto(pageURL, { waitUntil: "load" });
  result.status = resp?.status();
  result.contentType = resp?.headers()["content-type"];
  result.origin = await page.evaluate(() => location.origin);
  result.target = await page.locator("#url").textContent();
  result.browser = context.browser()?.version();

  const state = page.locator("#state");
  if (opt["expect-refused"]) {
    await page.locator('#state[data-state="closed"]').waitFor();
    const texts = await page.locator("#log li").allTextContents();
    if (texts.some((t) => t.startsWith("connected to"))) problems.push("the connection opened, but it should have been refused");
  } else {
    // Wait for the socket to open, failing at once if it closes instead.
    await page.locator('#state[data-state="open"], #state[data-state="closed"]').waitFor();
    if ((await state.getAttribute("data-state")) !== "open") throw new Error("the connection did not open");
    if (!pageSends) {
      if (opt.binary) await page.locator("#binary").check();
      await page.locator("#message").fill(sent);
      await page.locator("#send").click();
    }
    await page.locator("#log li.recv", { hasText: expected }).first().waitFor();
    if (opt.console) {
      // The tutorial's browser-console snippet, run in the page.
      result.console = await page.evaluate(
        ([url, msg, ms]) =>
          new Promise((resolve, reject) => {
            const ws = new WebSocket(url);
            const timer = setTimeout(() => reject(new Error("no reply within " + ms + " ms")), ms);
            ws.onmessage = (e) => {
              clearTimeout(timer);
              resolve(e.data);
              ws.close();
            };
            ws.onerror = () => reject(new Error("WebSocket error"));
            ws.onopen = () => ws.send(msg);
          }),
        [result.target, sent, timeout],
      );
      if (result.console !== expected) problems.push(`console snippet got ${JSON.stringify(result.console)}, want ${JSON.stringify(expected)}`);
    }
  }
  result.state = await state.getAttribute("data-state");
  result.received = await page.locator("#log li.recv").allTextContents();
  result.log = await page.locator("#log li").allTextContents();
  if (opt["expect-refused"]) {
    if (result.received.length > 0) problems.push("messages arrived on a refused connection");
  } else if (!result.received.includes(expected)) {
    problems.push(`no received message equals ${JSON.stringify(expected)}`);
  }
  if (opt.screenshot) await page.screenshot({ path: opt.screenshot, fullPage: true });
} catch (err) {
  problems.push(String(err?.message ?? err));
  if (page) {
    result.state ??= await page.locator("#state").getAttribute("data-state", { timeout: 1000 }).catch(() => undefined);
    result.log ??= await page.locator("#log li").allTextContents().catch(() => undefined);
  }
} finally {
  if (context) await context.close().catch(() => {});
  await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
}

result.ok = problems.length === 0;
if (!result.ok) result.problems = problems;
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
