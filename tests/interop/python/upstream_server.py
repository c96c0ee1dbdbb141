"""The upstream server of the proxy interop tests (test_proxy.py and tests/interop/node/
proxy.test.mjs): a FastMCP server on stdio, run by examples/proxy as its upstream.

It runs under two FastMCP versions, each from its own pinned venv:

- FastMCP 4.x (requirements.lock, MCP Python SDK 2.x) speaks both eras as a server: 2026-07-28
  (stateless, the proxy's default towards it) and 2025-11-25 (when the proxy is started with
  `--upstream-era 2025-11-25`). FastMCP 4 removed `ctx.sample()`, and its `ctx.elicit()` refuses
  2026-07-28 connections, so under 4.x the tools ask the client the way each era allows: on
  2026-07-28 they return an `InputRequiredResult` (an `input_required` round) and read the
  answer from `ctx.input_responses` on the retry; on 2025-11-25 they send a real
  `sampling/createMessage` (through the SDK session, `ctx.sample()` being gone) or
  `elicitation/create` (`ctx.elicit()`) request.
- FastMCP 3.x (upstream-fastmcp3.lock, MCP Python SDK 1.x) speaks the handshake era only (up to
  2025-11-25) and uses `ctx.sample()` and `ctx.elicit()`, which send real requests.

Tools: add, summarize (sampling), confirm (elicitation), slow (progress and a log message);
a resource (`data://greeting`) and a prompt (`review`). When MCP_UPSTREAM_ERA_LOG names a file,
each call of summarize, confirm and slow appends a line to it: the tool's name and the protocol
version of the connection it came on (so a test can tell which era the proxy spoke upstream).
"""

import asyncio
import os

import fastmcp
from fastmcp import Context, FastMCP

FASTMCP_MAJOR = int(fastmcp.__version__.split(".")[0])

mcp = FastMCP("proxy-upstream", instructions="An upstream for the proxy interop tests.")


def protocol_version(ctx: Context) -> str:
    if FASTMCP_MAJOR >= 4:
        return ctx.request_context.protocol_version
    return ctx.session.client_params.protocolVersion


def trace(ctx: Context, tool: str) -> None:
    if path := os.environ.get("MCP_UPSTREAM_ERA_LOG"):
        with open(path, "a") as log:
            log.write(f"{tool} {protocol_version(ctx)}\n")


def summary_prompt(text: str) -> str:
    return f"Summarize in one line:\n{text}"


@mcp.tool
def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b


@mcp.tool
async def slow(seconds: float, ctx: Context) -> str:
    """Waits `seconds`, reporting progress in four steps and logging one message."""
    trace(ctx, "slow")
    await ctx.info(f"slow: starting, {seconds}s")
    for step in range(1, 5):
        await asyncio.sleep(seconds / 4)
        await ctx.report_progress(step, 4, f"step {step} of 4")
    return f"slept {seconds}s"


@mcp.resource("data://greeting", mime_type="text/plain")
def greeting() -> str:
    """A fixed greeting."""
    return "Hello from the upstream."


@mcp.prompt
def review(code: str) -> str:
    """Asks for a review of `code`."""
    return f"Please review this code:\n{code}"


if FASTMCP_MAJOR >= 4:
    import mcp_types as types
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    def modern(ctx: Context) -> bool:
        return protocol_version(ctx) in MODERN_PROTOCOL_VERSIONS

    @mcp.tool
    async def summarize(text: str, ctx: Context) -> str | types.InputRequiredResult:
        """Summarizes `text` with the client's model (sampling)."""
        trace(ctx, "summarize")
        messages = [types.SamplingMessage(role="user", content=types.TextContent(type="text", text=summary_prompt(text)))]
        if modern(ctx):
            answers = ctx.input_responses or {}
            if "summary" not in answers:
                request = types.CreateMessageRequest(
                    params=types.CreateMessageRequestParams(messages=messages, max_tokens=200)
                )
                return types.InputRequiredResult(input_requests={"summary": request})
            reply = answers["summary"]
        else:
            reply = await ctx.session.create_message(
                messages=messages, max_tokens=200, related_request_id=ctx.request_id
            )
        return f"Summary: {reply.content.text}"

    CONFIRM_SCHEMA = {
        "type": "object",
        "properties": {"value": {"type": "boolean", "title": "Value"}},
        "required": ["value"],
    }

    @mcp.tool
    async def confirm(action: str, ctx: Context) -> str | types.InputRequiredResult:
        """Asks the user to confirm `action` (elicitation of a boolean)."""
        trace(ctx, "confirm")
        message = f"Really {action}?"
        if modern(ctx):
            answers = ctx.input_responses or {}
            if "confirm" not in answers:
                request = types.ElicitRequest(
                    params=types.ElicitRequestFormParams(message=message, requested_schema=CONFIRM_SCHEMA)
                )
                return types.InputRequiredResult(input_requests={"confirm": request})
            answer = answers["confirm"]
            if answer.action != "accept":
                return f"{action}: {answer.action}"
            return f"{action}: confirmed={answer.content['value']}"
        answer = await ctx.elicit(message, response_type=bool)
        if answer.action != "accept":
            return f"{action}: {answer.action}"
        return f"{action}: confirmed={answer.data}"

else:

    @mcp.tool
    async def summarize(text: str, ctx: Context) -> str:
        """Summarizes `text` with the client's model (sampling)."""
        trace(ctx, "summarize")
        reply = await ctx.sample(summary_prompt(text), max_tokens=200)
        return f"Summary: {reply.text}"

    @mcp.tool
    async def confirm(action: str, ctx: Context) -> str:
        """Asks the user to confirm `action` (elicitation of a boolean)."""
        trace(ctx, "confirm")
        answer = await ctx.elicit(f"Really {action}?", response_type=bool)
        if answer.action != "accept":
            return f"{action}: {answer.action}"
        return f"{action}: confirmed={answer.data}"


if __name__ == "__main__":
    mcp.run(transport="stdio", show_banner=False)
