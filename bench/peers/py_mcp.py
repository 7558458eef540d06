"""Peer driver: the official Python MCP SDK (`mcp`) over its Streamable HTTP client.

    .peers/venv/bin/python bench/peers/py_mcp.py URL MODE N CONC

MODE cold : connect (the SDK's default negotiation: `mcp.Client(url)`, mode
            "auto"), tools/list, one echo "hi" call, close (the SDK ends a
            session with DELETE on exit). Prints nothing.
MODE calls: connect, tools/list, 50 warm-up calls, then N echo calls with CONC
            workers in flight over the one client (asyncio.gather); prints one
            JSON line {"calls": N, "wall_s": f, "p50_us": i, "p99_us": i}.
Any failure: message on stderr, exit code 1.

PEER_DEBUG=1 prints the negotiated protocol version to stderr.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import time


def die(msg: str) -> None:
    sys.stderr.write(f"py_mcp: {msg}\n")
    sys.stderr.flush()
    os._exit(1)


def percentile(sorted_vals: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    idx = min(len(sorted_vals) - 1, max(0, math.ceil(p / 100 * len(sorted_vals)) - 1))
    return sorted_vals[idx]


async def echo(client) -> None:
    res = await client.call_tool("echo", {"message": "hi"})
    content = res.content
    text = getattr(content[0], "text", None) if content else None
    if res.is_error or text != "hi":
        raise RuntimeError(f"unexpected echo result: {res!r}")


async def run(url: str, mode: str, n: int, conc: int) -> None:
    from mcp import Client

    async with Client(url) as client:
        if os.environ.get("PEER_DEBUG"):
            sys.stderr.write(f"py_mcp: protocol {client.protocol_version} server {client.server_info!r}\n")
        tools = await client.list_tools()
        if not any(t.name == "echo" for t in tools.tools):
            raise RuntimeError("server has no echo tool")

        if mode == "cold":
            await echo(client)
            return

        for _ in range(50):
            await echo(client)

        lat: list[float] = []

        async def worker(count: int) -> None:
            for _ in range(count):
                t0 = time.perf_counter_ns()
                await echo(client)
                lat.append((time.perf_counter_ns() - t0) / 1000)

        # CONC workers, N/CONC sequential calls each (the first N%CONC take one more).
        counts = [n // conc + (1 if w < n % conc else 0) for w in range(conc)]
        start = time.perf_counter_ns()
        await asyncio.gather(*(worker(c) for c in counts))
        wall = (time.perf_counter_ns() - start) / 1e9

    lat.sort()
    out = {"calls": n, "wall_s": wall, "p50_us": round(percentile(lat, 50)), "p99_us": round(percentile(lat, 99))}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


def main() -> None:
    args = sys.argv[1:]
    if len(args) < 2 or args[1] not in ("cold", "calls"):
        die("usage: py_mcp.py URL cold|calls N CONC")
    url, mode = args[0], args[1]
    try:
        n = int(args[2]) if len(args) > 2 else 1
        conc = int(args[3]) if len(args) > 3 else 1
    except ValueError:
        die(f"bad N/CONC: {args[2:]}")
    if n <= 0 or conc <= 0:
        die(f"bad N/CONC: {n} {conc}")
    try:
        asyncio.run(run(url, mode, n, conc))
    except BaseException as e:  # noqa: BLE001 - any failure is a non-zero exit
        if isinstance(e, SystemExit):
            raise
        import traceback

        die("".join(traceback.format_exception(e)).rstrip())


if __name__ == "__main__":
    main()
