"""The official Python SDK client (PyPI `mcp`, pinned) against examples/quickstart over
Streamable HTTP, in its default mode (2026-07-28: stateless POSTs, `input_required` retries)
and in handshake mode (a session; the server's sampling request travels on the call's SSE
stream and the client POSTs the answer back)."""

import asyncio

import mcp_types as types
import pytest
from mcp import Client

MODES = ["auto", "legacy"]
ERA = {"auto": "2026-07-28", "legacy": "2025-11-25"}


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=60))


@pytest.mark.parametrize("mode", MODES)
def test_tools_and_sampling_over_http(quickstart_http, mode):
    async def sampling(context, params: types.CreateMessageRequestParams):
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="sampled over HTTP"), model="m"
        )

    async def main():
        async with Client(quickstart_http, mode=mode, sampling_callback=sampling) as client:
            assert client.protocol_version == ERA[mode]
            names = [t.name for t in (await client.list_tools()).tools]
            assert "summarize" in names
            added = await client.call_tool("add", {"a": 2, "b": 3})
            assert added.structured_content == {"result": 5}
            summary = await client.call_tool("summarize", {"text": "HTTP works."})
            assert summary.content[0].text == "sampled over HTTP"

    run(main())


def test_official_client_in_handshake_mode_without_sessions(quickstart_http_without_sessions):
    """A handshake-era client of a server without sessions: each POST is served on its own; a
    tool that asks the client fails with a clear error instead of hanging."""

    async def sampling(context, params: types.CreateMessageRequestParams):
        raise AssertionError("a server without sessions cannot ask the client")

    async def main():
        async with Client(quickstart_http_without_sessions, mode="legacy", sampling_callback=sampling) as client:
            assert client.protocol_version == "2025-11-25"
            added = await client.call_tool("add", {"a": 2, "b": 3})
            assert added.structured_content == {"result": 5}
            await client.call_tool("increment", {"by": 2})
            summary = await client.call_tool("summarize", {"text": "x"})
            assert summary.is_error is True
            assert "without sessions" in summary.content[0].text

    run(main())
