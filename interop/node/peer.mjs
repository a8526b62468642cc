// peer.mjs is Node's `ws` as an interop peer for wspipe's Go tests
// (interop/*_test.go): on every connection it follows the peer protocol
// described in interop/doc.go (echo, and the "cmd:" commands), and reports
// each connection's end as one JSON line on stdout.
//
//   node peer.mjs server --cert FILE --key FILE [--deflate JSON]
//       listens on 127.0.0.1 for ws:// and wss:// on free ports and prints
//       {"event":"listening","ws":PORT,"wss":PORT}; a connection's id is
//       the "id" query parameter of its URL. Prefers subprotocol chat.v1,
//       then chat.v2. JSON is ws's perMessageDeflate server option (true,
//       or an object such as {"serverMaxWindowBits":10}); without it, ws's
//       default: no permessage-deflate.
//   node peer.mjs client [--ca FILE]
//       reads one JSON object a line from stdin,
//       {"id","url","protocols","deflate"}, and opens that connection,
//       trusting FILE's CA for wss://. "deflate", if present, is ws's
//       perMessageDeflate client option (false, true or an object);
//       without it, ws's default: offer permessage-deflate.
//
// "cmd:extensions" is answered with the permessage-deflate parameters ws
// uses on the connection, written as a Sec-WebSocket-Extensions value
// with all four parameters (or nothing after "extensions:" without it).
//
// Both exit when stdin ends.

import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { WebSocket, WebSocketServer } from "ws";

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    cert: { type: "string" },
    key: { type: "string" },
    ca: { type: "string" },
    deflate: { type: "string" },
  },
});
const mode = positionals[0];
const maxPayload = 64 << 20;

function report(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// extensions describes the permessage-deflate parameters in effect on ws.
// ws keeps them on its (internal) extension object; absent window bits
// mean 15.
function extensions(ws) {
  const pmd = ws._extensions?.["permessage-deflate"];
  if (!pmd?.params) return "";
  const p = pmd.params;
  const bits = (v) => (typeof v === "number" ? v : 15);
  const parts = ["permessage-deflate"];
  if (p.server_no_context_takeover) parts.push("server_no_context_takeover");
  if (p.client_no_context_takeover) parts.push("client_no_context_takeover");
  parts.push("server_max_window_bits=" + bits(p.server_max_window_bits));
  parts.push("client_max_window_bits=" + bits(p.client_max_window_bits));
  return parts.join("; ");
}

// noise is the k-th piece of a "noise" frag command (interop/doc.go).
function noise(k, size) {
  const b = Buffer.alloc(size);
  let x = k + 1;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff;
    b[i] = 33 + ((x >>> 16) % 94);
  }
  return b;
}

// serve runs the peer protocol on ws, one connection.
function serve(ws, id) {
  ws.on("message", (data, isBinary) => {
    const text = isBinary ? null : data.toString("utf8");
    if (text === null || !text.startsWith("cmd:")) {
      ws.send(data, { binary: isBinary });
      return;
    }
    const [cmd, ...args] = text.slice(4).split(":");
    switch (cmd) {
      case "close": // no code: a close frame without a status code
        if (args[0] === "") ws.close();
        else ws.close(Number(args[0]), args.slice(1).join(":"));
        break;
      case "ping": {
        const payload = args.join(":");
        ws.once("pong", (got) => ws.send("pong:" + got.toString("utf8")));
        ws.ping(Buffer.from(payload));
        break;
      }
      case "protocol":
        ws.send("protocol:" + ws.protocol);
        break;
      case "extensions":
        ws.send("extensions:" + extensions(ws));
        break;
      case "frag": {
        const [type, n, size] = [args[0], Number(args[1]), Number(args[2])];
        for (let k = 0; k < n; k++) {
          const piece = args[3] === "noise" ? noise(k, size) : Buffer.alloc(size, 97 + (k % 26));
          ws.send(piece, { binary: type === "binary", fin: k === n - 1 });
        }
        break;
      }
      default:
        ws.send("unsupported:" + cmd);
    }
  });
  ws.on("close", (code, reason) => report({ id, event: "close", code, reason: reason.toString("utf8") }));
  ws.on("error", (err) => report({ id, event: "error", error: String(err?.message ?? err) }));
}

function onStdinEnd(fn) {
  const rl = createInterface({ input: process.stdin });
  rl.on("close", fn);
  return rl;
}

if (mode === "server") {
  const handleProtocols = (offered) => ["chat.v1", "chat.v2"].find((p) => offered.has(p)) ?? false;
  const idOf = (req) => new URL(req.url, "http://x").searchParams.get("id") ?? "";
  const perMessageDeflate = opt.deflate ? JSON.parse(opt.deflate) : false;
  const common = { handleProtocols, maxPayload, perMessageDeflate };
  const plain = new WebSocketServer({ host: "127.0.0.1", port: 0, ...common });
  const https = createServer({ cert: readFileSync(opt.cert), key: readFileSync(opt.key) });
  const secure = new WebSocketServer({ server: https, ...common });
  for (const wss of [plain, secure]) wss.on("connection", (ws, req) => serve(ws, idOf(req)));
  await new Promise((resolve) => plain.on("listening", resolve));
  await new Promise((resolve) => https.listen(0, "127.0.0.1", resolve));
  report({ event: "listening", ws: plain.address().port, wss: https.address().port });
  onStdinEnd(() => process.exit(0));
} else if (mode === "client") {
  const ca = opt.ca ? readFileSync(opt.ca) : undefined;
  const rl = onStdinEnd(() => process.exit(0));
  rl.on("line", (line) => {
    const { id, url, protocols, deflate } = JSON.parse(line);
    const opts = { ca, maxPayload };
    if (deflate !== undefined) opts.perMessageDeflate = deflate;
    serve(new WebSocket(url, protocols ?? [], opts), id);
  });
} else {
  console.error("usage: node peer.mjs server --cert FILE --key FILE [--deflate JSON] | client [--ca FILE]");
  process.exit(2);
}
