"""Peer driver: mcp-use (`mcp_use.MCPClient`), Python, over Streamable HTTP.

    .peers/bench-venv/bin/python bench/peers/py_mcp_use.py URL MODE N CONC

MODE cold : create the session from a config dict ({"mcpServers": {name: {"url": URL}}}),
            which connects and initializes (mcp-use also lists tools, resources
            and prompts the server advertises while connecting), tools/list, one
            echo "hi" call, close all sessions. Prints nothing.
MODE calls: connect, tools/list, 50 warm-up calls, then N echo calls with CONC
            workers in flight over the one session (asyncio.gather); prints one
            JSON line {"calls": N, "wall_s": f, "p50_us": i, "p99_us": i}.
Any failure: message on stderr, exit code 1.

mcp-use is quiet only when told: telemetry (PostHog and Scarf, network calls to
third-party hosts) is switched off with MCP_USE_ANONYMIZED_TELEMETRY=false
before import, and its logger, which logs at INFO to *stdout* by default, is set
to WARNING and moved to stderr. Disabled log calls cost one level check, so
timing is unaffected. Two known-benign lines every run would print are
filtered (see _DropKnown).

PEER_DEBUG=1 prints the negotiated protocol version to stderr.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import sys
import time

os.environ["MCP_USE_ANONYMIZED_TELEMETRY"] = "false"

SERVER = "fast"


def die(msg: str) -> None:
    sys.stderr.write(f"py_mcp_use: {msg}\n")
    sys.stderr.flush()
    os._exit(1)


class _DropKnown(logging.Filter):
    """Drops the two log lines every run against the bench server prints."""

    PREFIXES = (
        # mcp-use probes OAuth metadata on every connect (the default config's
        # `auth` is {}), and logs a miss at ERROR; the connect then goes on.
        "Failed to discover OAuth/OIDC metadata",
        # mcp 1.x expects 200/204 to the session DELETE; the server says 202.
        "Session termination failed: 202",
    )

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.PREFIXES)


def quiet_logging() -> None:
    from mcp_use.logging import Logger

    Logger.set_debug(0)  # WARNING for mcp_use's loggers (default is INFO)
    base = logging.getLogger("mcp_use")
    for h in base.handlers[:]:
        base.removeHandler(h)
    err = logging.StreamHandler(sys.stderr)
    err.setFormatter(logging.Formatter("mcp_use %(levelname)s: %(message)s"))
    err.addFilter(_DropKnown())
    base.addHandler(err)
    base.setLevel(logging.WARNING)
    logging.getLogger("mcp.client.streamable_http").addFilter(_DropKnown())


def percentile(sorted_vals: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    idx = min(len(sorted_vals) - 1, max(0, math.ceil(p / 100 * len(sorted_vals)) - 1))
    return sorted_vals[idx]


async def echo(session) -> None:
    res = await session.call_tool("echo", {"message": "hi"})
    content = res.content
    text = getattr(content[0], "text", None) if content else None
    if res.isError or text != "hi":
        raise RuntimeError(f"unexpected echo result: {res!r}")


async def run(url: str, mode: str, n: int, conc: int) -> None:
    from mcp_use import MCPClient

    quiet_logging()
    client = MCPClient({"mcpServers": {SERVER: {"url": url}}})
    lat: list[float] = []
    wall = 0.0
    try:
        session = await client.create_session(SERVER)
        if session is None:
            raise RuntimeError("mcp-use created no session")
        if os.environ.get("PEER_DEBUG"):
            cs = session.connector.client_session
            info = getattr(cs, "_session", cs)
            sys.stderr.write(
                f"py_mcp_use: transport {session.connector.transport_type!r} "
                f"session_info {session.session_info!r} client_session {type(info).__name__}\n"
            )
        tools = await session.list_tools()
        if not any(t.name == "echo" for t in tools):
            raise RuntimeError("server has no echo tool")

        if mode == "cold":
            await echo(session)
            return

        for _ in range(50):
            await echo(session)

        async def worker(count: int) -> None:
            for _ in range(count):
                t0 = time.perf_counter_ns()
                await echo(session)
                lat.append((time.perf_counter_ns() - t0) / 1000)

        # CONC workers, N/CONC sequential calls each (the first N%CONC take one more).
        counts = [n // conc + (1 if w < n % conc else 0) for w in range(conc)]
        start = time.perf_counter_ns()
        await asyncio.gather(*(worker(c) for c in counts))
        wall = (time.perf_counter_ns() - start) / 1e9
    finally:
        await client.close_all_sessions()

    lat.sort()
    out = {"calls": n, "wall_s": wall, "p50_us": round(percentile(lat, 50)), "p99_us": round(percentile(lat, 99))}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


def main() -> None:
    args = sys.argv[1:]
    if len(args) < 2 or args[1] not in ("cold", "calls"):
        die("usage: py_mcp_use.py URL cold|calls N CONC")
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
