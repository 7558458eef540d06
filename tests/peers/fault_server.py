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
"""

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()


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
            self.record(self.body())
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
            self.send(405)

        def do_GET(self):
            self.record()
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

    return H


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--post-status", type=int)
    p.add_argument("--cross-origin", type=int)
    p.add_argument("--redirect-other", type=int)
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
