"""A deliberately misbehaving HTTP server for mcpkey's fault tests (Python
standard library only). Every request is appended to --log as a JSON line, so
tests can prove what did and did not reach the server.

Modes:
  --post-status N     answer every POST with HTTP N (401 carries a Bearer
                      challenge); GET /sse opens a legacy SSE stream, so a
                      client that wrongly falls back would be seen doing so.
  --cross-origin P    GET /sse announces an endpoint on another origin
                      (http://127.0.0.1:P/messages); a listener on P logs any
                      request that reaches it.
  --redirect-other P  every POST is answered 307 to http://127.0.0.1:P/mcp,
                      another origin with a logging listener.

With --drop-stream or --slow-loris, /mcp is a small legacy (2025-11-25)
Streamable HTTP MCP server: server/discover gets 400 + -32601 (so clients
fall back to initialize), initialize answers JSON with Mcp-Session-Id,
notifications and responses get 202, tools/list lists "echo", ping answers {},
GET without Last-Event-ID gets 405 (no standalone stream), DELETE 200. Only
tools/call misbehaves:

  --drop-stream resume  answered with an SSE stream (chunked, `retry: 50`) whose
                      events have ids "<call>-<k>": event 0 primes (id, empty
                      data), event 1 is a notifications/message log (data
                      "note <call>-1"), event 2 is the response. The POST
                      stream sends event 0 and breaks (the connection is cut
                      without the final chunk); the GET resuming after 0 sends
                      event 1 and breaks; the GET resuming after 1 sends event 2
                      and ends.
  --drop-stream replay  the POST stream sends events 0 and 1 and breaks; the
                      GET resuming after 1 wrongly replays event 1, then sends
                      event 2 twice, and ends.
  --slow-loris headers  the response's status line and headers trickle one
                      byte every 10 ms and never end.
  --slow-loris body   complete headers (application/json, Content-Length
                      100000), then the body trickles one byte every 10 ms.
  --slow-loris sse    an event stream that only ever sends keep-alive comments.
  --forget-sessions   a legacy server that answers initialize with a session
                      but every tools/call with 404, as a server restarted
                      (and restarting again) would.
A slow-loris connection the client closed is logged as
{"event": "slow_closed", "sent": bytes}.
"""

import argparse
import itertools
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
SESSION = "fault-session"
LEGACY_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26"]
CALLS = itertools.count(1)
# --drop-stream plans: which events each leg sends, and how it ends.
# "post" is the POST stream, 1 and 2 the first and second resuming GETs.
PLANS = {
    "resume": {"post": ([0], "break"), 1: ([1], "break"), 2: ([2], "end")},
    "replay": {"post": ([0, 1], "break"), 1: ([1, 2, 2], "end")},
}
STREAMS = {}  # call number -> {"rpc_id": ..., "message": ..., "resumes": n}


def log(logfile, **entry):
    with LOCK, open(logfile, "a") as f:
        f.write(json.dumps(entry) + "\n")


def make_handler(args, origin):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def record(self, body=b""):
            log(
                args.log,
                origin=origin,
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body.decode("utf-8", "replace"),
            )

        def body(self):
            n = int(self.headers.get("content-length") or 0)
            return self.rfile.read(n) if n else b""

        def send(self, status, body=b"", ctype="text/plain", extra=()):
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(body)))
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            body = self.body()
            self.record(body)
            if self.mcp_mode() and origin == "main":
                self.mcp_post(body)
                return
            if origin == "other":
                self.send(202)
                return
            if args.redirect_other:
                self.send(307, extra=[("location", f"http://127.0.0.1:{args.redirect_other}/mcp")])
                return
            status = args.post_status or 404
            extra = [("www-authenticate", 'Bearer realm="fault"')] if status == 401 else []
            self.send(status, b"nope", extra=extra)

        def do_DELETE(self):
            self.record()
            self.send(200 if self.mcp_mode() else 405)

        def do_GET(self):
            self.record()
            if self.mcp_mode() and origin == "main":
                self.mcp_get()
                return
            if origin == "other" or not self.path.startswith("/sse"):
                self.send(404)
                return
            endpoint = "/messages?session_id=abc"
            if args.cross_origin:
                endpoint = f"http://127.0.0.1:{args.cross_origin}/messages?session_id=abc"
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.end_headers()
            self.wfile.write(f"event: endpoint\ndata: {endpoint}\n\n".encode())
            self.wfile.flush()
            try:
                while True:
                    threading.Event().wait(1)
                    self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
            except OSError:
                pass

        # ------------------------------------------------ the MCP modes

        def mcp_mode(self):
            return bool(args.drop_stream or args.slow_loris or args.forget_sessions)

        def json_reply(self, status, message, extra=()):
            self.send(status, json.dumps(message).encode(), "application/json", extra)

        def mcp_post(self, body):
            try:
                msg = json.loads(body)
            except ValueError:
                self.send(400, b"not JSON")
                return
            method, rpc_id = msg.get("method"), msg.get("id")
            if method is None or rpc_id is None:
                self.send(202)  # a notification or a response
                return
            if method == "server/discover":
                error = {"code": -32601, "message": "Method not found"}
                self.json_reply(400, {"jsonrpc": "2.0", "id": rpc_id, "error": error})
                return
            if method == "initialize":
                asked = (msg.get("params") or {}).get("protocolVersion")
                result = {
                    "protocolVersion": asked if asked in LEGACY_VERSIONS else LEGACY_VERSIONS[0],
                    "capabilities": {"tools": {}, "logging": {}},
                    "serverInfo": {"name": "fault-server", "version": "1.0.0"},
                }
                self.json_reply(200, {"jsonrpc": "2.0", "id": rpc_id, "result": result}, [("mcp-session-id", SESSION)])
                return
            if method == "tools/call" and args.forget_sessions:
                # Restarted, every session forgotten: even a brand-new one.
                self.send(404, b"session not found")
                return
            if method == "tools/call":
                text = str(((msg.get("params") or {}).get("arguments") or {}).get("message", ""))
                result = {"content": [{"type": "text", "text": text}], "isError": False}
                if args.slow_loris:
                    self.slow_loris(rpc_id)
                    return
                call = next(CALLS)
                STREAMS[call] = {"rpc_id": rpc_id, "result": result, "resumes": 0}
                events, end = PLANS[args.drop_stream]["post"]
                self.sse_leg(call, events, end)
                return
            if method == "tools/list":
                tool = {"name": "echo", "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}}}}
                self.json_reply(200, {"jsonrpc": "2.0", "id": rpc_id, "result": {"tools": [tool]}})
                return
            if method == "ping":
                self.json_reply(200, {"jsonrpc": "2.0", "id": rpc_id, "result": {}})
                return
            error = {"code": -32601, "message": "Method not found"}
            self.json_reply(200, {"jsonrpc": "2.0", "id": rpc_id, "error": error})

        def mcp_get(self):
            if args.forget_sessions:
                self.send(405)
                return
            last = self.headers.get("last-event-id")
            call = None
            if last and "-" in last:
                try:
                    call = int(last.split("-", 1)[0])
                except ValueError:
                    pass
            if call not in STREAMS:
                self.send(405)  # no standalone stream; unknown event ids too
                return
            st = STREAMS[call]
            st["resumes"] += 1
            leg = PLANS[args.drop_stream].get(st["resumes"])
            if leg is None:
                self.send(404)
                return
            self.sse_leg(call, *leg)

        def event(self, call, k):
            st = STREAMS[call]
            data = ""
            if k == 1:
                note = {"level": "info", "logger": "fault", "data": f"note {call}-1"}
                data = json.dumps({"jsonrpc": "2.0", "method": "notifications/message", "params": note})
            elif k == 2:
                data = json.dumps({"jsonrpc": "2.0", "id": st["rpc_id"], "result": st["result"]})
            return f"id: {call}-{k}\ndata: {data}\n\n".encode()

        def chunk(self, data):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def sse_leg(self, call, events, end):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.send_header("transfer-encoding", "chunked")
            self.send_header("mcp-session-id", SESSION)
            self.end_headers()
            self.chunk(b"retry: 50\n\n")
            for k in events:
                self.chunk(self.event(call, k))
            if end == "end":
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                return
            # Cut the connection in the middle of the chunked body.
            time.sleep(0.05)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def slow_loris(self, rpc_id):
            self.close_connection = True
            mode = args.slow_loris
            if mode == "headers":
                head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                tail = itertools.repeat(b"x-slow: " + b"a" * 64 + b"\r\n")
            elif mode == "body":
                start = json.dumps({"jsonrpc": "2.0", "id": rpc_id, "result": {"content": []}})[:-1]
                head = (
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n"
                    + start.encode()
                )
                tail = itertools.repeat(b" ")
            else:
                head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\nretry: 50\n\n"
                tail = itertools.repeat(b": keep-alive\n\n")
            # headers: everything trickles; body, sse: the head at once, then the rest trickles.
            trickle = itertools.chain([head], tail) if mode == "headers" else tail
            sent = 0
            try:
                if mode != "headers":
                    self.wfile.write(head)
                    self.wfile.flush()
                for piece in trickle:
                    for i in range(len(piece)):
                        self.wfile.write(piece[i : i + 1])
                        self.wfile.flush()
                        sent += 1
                        time.sleep(0.01)
            except OSError:
                log(args.log, origin=origin, event="slow_closed", mode=mode, sent=sent)

    return H


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--post-status", type=int)
    p.add_argument("--cross-origin", type=int)
    p.add_argument("--redirect-other", type=int)
    p.add_argument("--drop-stream", choices=sorted(PLANS))
    p.add_argument("--slow-loris", choices=["headers", "body", "sse"])
    p.add_argument("--forget-sessions", action="store_true")
    args = p.parse_args()
    servers = [ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args, "main"))]
    other = args.cross_origin or args.redirect_other
    if other:
        servers.append(ThreadingHTTPServer(("127.0.0.1", other), make_handler(args, "other")))
    for s in servers:
        s.daemon_threads = True
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
