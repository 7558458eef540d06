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

import logging
import os
import sys

from _driver import main, timed_calls

os.environ["MCP_USE_ANONYMIZED_TELEMETRY"] = "false"

SERVER = "fast"


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

        await timed_calls(lambda: echo(session), n, conc)
    finally:
        await client.close_all_sessions()


if __name__ == "__main__":
    main("py_mcp_use", run)
