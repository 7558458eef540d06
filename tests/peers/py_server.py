"""An MCP server built on the official Python SDK (`mcp` from PyPI), used as a
real peer by mcpkey's tests. The SDK serves both protocol eras on one endpoint:
2026-07-28 requests (per-request `_meta`) statelessly, and `initialize`-based
sessions for 2025-11-25 and older.

    python py_server.py --transport both --port 8103      # /mcp, /sse, /messages/
    python py_server.py --transport stdio

Tools: echo, add, slow (progress), ask_name / count_roots / ask_llm
(elicitation, roots, sampling: input_required rounds on 2026-07-28, server
requests on legacy sessions), log_message (server log notification), seen
(request counts), change_tools / touch (change notifications), pid.
tools/list carries ttlMs 60000.
Resources: 7 static ones, served 3 per page to exercise pagination.
"""

import argparse
import asyncio
import dataclasses
import os
import sys

from typing import Annotated

from mcp_types import CreateMessageResult, ListRootsResult, SamplingMessage, TextContent
from pydantic import BaseModel, Field

from mcp.server import CacheHint, MCPServer
from mcp.server.mcpserver import Context, Elicit, ElicitationResult, Resolve
from mcp.server.mcpserver.resolve import ListRoots, Sample

PAGE_SIZE = 3


class Paginate:
    """Serve `resources/list` in pages of PAGE_SIZE (the SDK returns one page)."""

    async def __call__(self, ctx, call_next):
        if ctx.method != "resources/list":
            return await call_next(ctx)
        params = dict(ctx.params or {})
        cursor = params.pop("cursor", None)
        result = await call_next(dataclasses.replace(ctx, params=params))
        data = result.model_dump(by_alias=True, exclude_none=True) if hasattr(result, "model_dump") else dict(result)
        items = data.get("resources", [])
        start = int(cursor) if cursor else 0
        data["resources"] = items[start : start + PAGE_SIZE]
        if start + PAGE_SIZE < len(items):
            data["nextCursor"] = str(start + PAGE_SIZE)
        else:
            data.pop("nextCursor", None)
        return data


class Count:
    """Count requests per method, so tests can see what reached the server."""

    seen: dict = {}

    async def __call__(self, ctx, call_next):
        if ctx.request_id is not None:
            Count.seen[ctx.method] = Count.seen.get(ctx.method, 0) + 1
        return await call_next(ctx)


mcp = MCPServer(
    "py-peer",
    version="0.1.0",
    instructions="Python SDK test peer for mcpkey",
    middleware=[Count(), Paginate()],
    # tools/list is fresh for a minute: clients may serve it from cache.
    cache_hints={"tools/list": CacheHint(ttl_ms=60_000, scope="public")},
)


@mcp.tool()
def echo(message: str) -> str:
    """Echo the message back."""
    return message


@mcp.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@mcp.tool()
async def slow(steps: int = 3, ctx: Context = None) -> str:  # type: ignore[assignment]
    """Sleep `steps` x 0.2 s, reporting progress each step."""
    for i in range(steps):
        await asyncio.sleep(0.2)
        await ctx.report_progress(i + 1, steps, f"step {i + 1}")
    return f"done {steps}"


class Name(BaseModel):
    name: str = Field(default="Ada", description="Your name")


def _ask(ctx: Context) -> Elicit[Name]:
    return Elicit("What is your name?", Name)


@mcp.tool()
async def ask_name(answer: Annotated[ElicitationResult[Name], Resolve(_ask)]) -> str:
    """Ask the user for their name (elicitation: an input_required round on
    2026-07-28, an elicitation/create request on legacy sessions)."""
    if answer.action == "accept" and answer.data is not None:
        return f"Hello, {answer.data.name}!"
    return f"no name ({answer.action})"


def _roots(ctx: Context) -> ListRoots:
    return ListRoots()


@mcp.tool()
async def count_roots(roots: Annotated[ListRootsResult, Resolve(_roots)]) -> str:
    """How many roots the client offers (roots/list)."""
    return f"{len(roots.roots)} roots: " + ", ".join(str(r.uri) for r in roots.roots)


def _sample(ctx: Context, question: str) -> Sample:
    return Sample([SamplingMessage(role="user", content=TextContent(type="text", text=question))], max_tokens=50)


@mcp.tool()
async def ask_llm(question: str, answer: Annotated[CreateMessageResult, Resolve(_sample)]) -> str:
    """Ask the client's LLM a question (sampling/createMessage)."""
    c = answer.content
    return "LLM says: " + (c.text if hasattr(c, "text") else str(c))


@mcp.tool()
async def log_message(message: str, ctx: Context = None) -> str:  # type: ignore[assignment]
    """Send `message` as a server log notification, then return."""
    await ctx.info(message)
    return "logged"


@mcp.tool()
def seen(method: str) -> int:
    """How many `method` requests reached this server."""
    return Count.seen.get(method, 0)


@mcp.tool()
async def change_tools(ctx: Context = None) -> str:  # type: ignore[assignment]
    """Announce that the tool list changed (notifications/tools/list_changed)."""
    await ctx.notify_tools_changed()
    return "announced"


@mcp.tool()
async def touch(uri: str, ctx: Context = None) -> str:  # type: ignore[assignment]
    """Announce that a resource changed (notifications/resources/updated)."""
    await ctx.notify_resource_updated(uri)
    return "touched"


@mcp.tool()
def pid() -> int:
    """The server's process id (tests use it to check process cleanup)."""
    return os.getpid()


for i in range(7):

    def make(i=i):
        @mcp.resource(f"test://item/{i}", name=f"item-{i}", mime_type="text/plain")
        def item() -> str:
            return f"item {i}"

    make()


@mcp.resource("test://greet/{name}", mime_type="text/plain")
def greet(name: str) -> str:
    """A templated resource."""
    return f"Hello, {name}!"


@mcp.prompt()
def review(code: str) -> str:
    """Ask for a code review."""
    return f"Please review:\n{code}"


def build_app(transport: str, host: str, json_response: bool):
    if transport == "streamable-http":
        return mcp.streamable_http_app(host=host, json_response=json_response)
    if transport == "sse":
        return mcp.sse_app(host=host)
    app = mcp.streamable_http_app(host=host, json_response=json_response)
    for r in mcp.sse_app(host=host).routes:
        app.router.routes.append(r)
    return app


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--transport", default="both", choices=["stdio", "sse", "streamable-http", "both"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8103)
    p.add_argument("--json", action="store_true", help="JSON responses instead of SSE")
    a = p.parse_args()
    if a.transport == "stdio":
        mcp.run("stdio")
        sys.exit(0)
    import uvicorn

    uvicorn.run(build_app(a.transport, a.host, a.json), host=a.host, port=a.port, log_level="warning")
