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

import os
import sys

from _driver import main, timed_calls


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

        await timed_calls(lambda: echo(client), n, conc)


if __name__ == "__main__":
    main("py_mcp", run)
