"""Python's websockets (Debian's python3-websockets, 10.x, asyncio API) as
an interop peer for wspipe's Go tests (interop/*_test.go).

On every connection it follows the peer protocol described in
interop/doc.go (echo, and the "cmd:" commands), and reports each
connection's end as one JSON line on stdout.

    /usr/bin/python3 peer.py server --cert FILE --key FILE [--deflate JSON]
        listens on 127.0.0.1 for ws:// and wss:// on free ports and prints
        {"event": "listening", "ws": PORT, "wss": PORT}; a connection's id
        is the "id" query parameter of its URL. Prefers subprotocol chat.v1,
        then chat.v2.
    /usr/bin/python3 peer.py client [--ca FILE]
        reads one JSON object a line from stdin,
        {"id", "url", "protocols", "deflate"}, and opens that connection,
        trusting FILE's CA for wss://.

permessage-deflate: websockets enables it by default on both sides (its
default server factory limits both windows to 12 bits). A "deflate" of
false turns it off (compression=None); an object is the keyword arguments
of ServerPerMessageDeflateFactory or ClientPerMessageDeflateFactory
(server_no_context_takeover, client_no_context_takeover,
server_max_window_bits, client_max_window_bits). "cmd:extensions" is
answered with the parameters in effect, written as a
Sec-WebSocket-Extensions value with all four parameters (or nothing after
"extensions:" without permessage-deflate).

Both exit when stdin ends.
"""

import argparse
import asyncio
import json
import ssl
import sys
import urllib.parse

import websockets
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)

MAX_SIZE = 64 << 20
SERVER_PROTOCOLS = ["chat.v1", "chat.v2"]


def report(**fields):
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


async def command(ws, text):
    cmd, _, arg = text.partition(":")
    if cmd == "close":
        code, _, reason = arg.partition(":")
        if not code:  # the API always sends a status code
            await ws.send("unsupported:close")
            return
        await ws.close(int(code), reason)
    elif cmd == "ping":
        pong = await ws.ping(arg.encode())
        await pong
        await ws.send("pong:" + arg)
    elif cmd == "protocol":
        await ws.send("protocol:" + (ws.subprotocol or ""))
    elif cmd == "extensions":
        await ws.send("extensions:" + extensions(ws))
    elif cmd == "frag":
        typ, n, size, *kind = arg.split(":")
        if kind == ["noise"]:
            pieces = [noise(k, int(size)) for k in range(int(n))]
        else:
            pieces = [chr(97 + k % 26) * int(size) for k in range(int(n))]
        if typ == "binary":
            pieces = [p.encode() for p in pieces]
        await ws.send(pieces)  # an iterable: one frame per item
    else:
        await ws.send("unsupported:" + cmd)


def noise(k, size):
    """The k-th piece of a "noise" frag command (interop/doc.go)."""
    out = []
    x = k + 1
    for _ in range(size):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out.append(chr(33 + (x >> 16) % 94))
    return "".join(out)


def extensions(ws):
    """The permessage-deflate parameters in effect on ws."""
    for ext in ws.extensions:
        if ext.name != "permessage-deflate":
            continue
        # remote/local are the peer's and ours: the server's and the
        # client's for a client, the other way round for a server.
        remote = (ext.remote_no_context_takeover, ext.remote_max_window_bits)
        local = (ext.local_no_context_takeover, ext.local_max_window_bits)
        server, client = (remote, local) if ws.is_client else (local, remote)
        parts = ["permessage-deflate"]
        if server[0]:
            parts.append("server_no_context_takeover")
        if client[0]:
            parts.append("client_no_context_takeover")
        parts.append("server_max_window_bits=%d" % server[1])
        parts.append("client_max_window_bits=%d" % client[1])
        return "; ".join(parts)
    return ""


def deflate_options(deflate, factory):
    """websockets keyword arguments for a "deflate" setting."""
    if deflate is None:
        return {}
    if deflate is False:
        return dict(compression=None)
    return dict(extensions=[factory(**deflate)])


async def serve(ws, cid):
    """Runs the peer protocol on one connection and reports its end."""
    try:
        async for msg in ws:
            if isinstance(msg, str) and msg.startswith("cmd:"):
                await command(ws, msg[4:])
            else:
                await ws.send(msg)
    except websockets.ConnectionClosed:
        pass
    except Exception as e:  # report, never hang the Go test
        report(id=cid, event="error", error=repr(e))
        await ws.close(1011)
    await ws.wait_closed()
    report(id=cid, event="close", code=ws.close_code, reason=ws.close_reason or "")


def prefer_server_order(client_protocols, server_protocols):
    for p in server_protocols:
        if p in client_protocols:
            return p
    return None


async def stdin_lines():
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        yield line


async def run_server(args):
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(args.cert, args.key)

    async def handler(ws):
        query = urllib.parse.urlsplit(ws.path).query
        cid = urllib.parse.parse_qs(query).get("id", [""])[0]
        await serve(ws, cid)

    deflate = json.loads(args.deflate) if args.deflate else None
    common = dict(
        subprotocols=SERVER_PROTOCOLS,
        select_subprotocol=prefer_server_order,
        max_size=MAX_SIZE,
        **deflate_options(deflate, ServerPerMessageDeflateFactory),
    )
    plain = await websockets.serve(handler, "127.0.0.1", 0, **common)
    secure = await websockets.serve(handler, "127.0.0.1", 0, ssl=tls, **common)
    port = lambda s: s.sockets[0].getsockname()[1]
    report(event="listening", ws=port(plain), wss=port(secure))
    async for _ in stdin_lines():
        pass


async def run_client(args):
    tls = ssl.create_default_context(cafile=args.ca) if args.ca else None
    tasks = set()

    async def one(cid, url, protocols, deflate):
        try:
            opts = dict(subprotocols=protocols or None, max_size=MAX_SIZE, open_timeout=10)
            opts.update(deflate_options(deflate, ClientPerMessageDeflateFactory))
            if url.startswith("wss:"):
                opts["ssl"] = tls
            ws = await websockets.connect(url, **opts)
        except Exception as e:
            report(id=cid, event="error", error=repr(e))
            report(id=cid, event="close", code=1006, reason="")
            return
        await serve(ws, cid)

    async for line in stdin_lines():
        req = json.loads(line)
        t = asyncio.create_task(one(req["id"], req["url"], req.get("protocols"), req.get("deflate")))
        tasks.add(t)
        t.add_done_callback(tasks.discard)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["server", "client"])
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--ca")
    p.add_argument("--deflate")
    args = p.parse_args()
    asyncio.run(run_server(args) if args.mode == "server" else run_client(args))


if __name__ == "__main__":
    main()
