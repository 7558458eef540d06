"""Broken stdio MCP servers for mcpkey's fault tests (standard library only).

  python stdio_faults.py exit      writes a reason to stderr and exits 3
  python stdio_faults.py hang      starts a grandchild (sleep), then never answers
  python stdio_faults.py flood     writes megabytes to stderr, then serves normally
  python stdio_faults.py garbage   prints non-JSON lines on stdout, then serves
  python stdio_faults.py crash     serves, but dies in the middle of tools/call
  python stdio_faults.py record    serves, appending every message it receives
                                   to $FAULT_LOG; tool `wait` never answers

"Serves" means a minimal legacy server: initialize, tools/list (tool echo),
tools/call echo; unknown methods get -32601. The pid of any grandchild is
written to the file named by $FAULT_CHILD_PIDFILE.
"""

import json
import os
import subprocess
import sys
import time


def reply(msg_id, result=None, error=None):
    m = {"jsonrpc": "2.0", "id": msg_id}
    if error is not None:
        m["error"] = error
    else:
        m["result"] = result
    sys.stdout.write(json.dumps(m) + "\n")
    sys.stdout.flush()


def serve(crash_on_call=False, record=None):
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        msg = json.loads(line)
        if record:
            with open(record, "a") as f:
                f.write(json.dumps(msg) + "\n")
        method, mid = msg.get("method"), msg.get("id")
        if mid is None:
            continue
        if method == "initialize":
            reply(mid, {"protocolVersion": msg["params"]["protocolVersion"], "capabilities": {"tools": {}},
                        "serverInfo": {"name": "fault", "version": "1"}})
        elif method == "tools/list":
            reply(mid, {"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]})
        elif method == "tools/call":
            if crash_on_call:
                sys.stderr.write("panic: something broke while calling the tool\n")
                sys.stderr.flush()
                os._exit(70)
            if msg["params"].get("name") == "wait":
                continue
            text = json.dumps(msg["params"].get("arguments", {}))
            reply(mid, {"content": [{"type": "text", "text": text}]})
        else:
            reply(mid, error={"code": -32601, "message": f"Method not found: {method}"})


def grandchild():
    child = subprocess.Popen(["sleep", "300"])
    path = os.environ.get("FAULT_CHILD_PIDFILE")
    if path:
        with open(path, "w") as f:
            f.write(str(child.pid))


def main():
    mode = sys.argv[1]
    if mode == "exit":
        sys.stderr.write("fatal: missing API_KEY in environment\n")
        sys.exit(3)
    if mode == "hang":
        grandchild()
        while True:
            time.sleep(3600)
    if mode == "flood":
        chunk = "x" * 1023 + "\n"
        for _ in range(4096):  # 4 MiB, far beyond any pipe buffer
            sys.stderr.write(chunk)
        sys.stderr.flush()
        grandchild()
        serve()
    if mode == "garbage":
        print("Starting server v1.2.3 ...", flush=True)
        print("{not json", flush=True)
        serve()
    if mode == "crash":
        serve(crash_on_call=True)
    if mode == "record":
        serve(record=os.environ["FAULT_LOG"])


if __name__ == "__main__":
    main()
