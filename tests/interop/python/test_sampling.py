"""`ctx.sample()` and `ctx.elicit()` with real clients: the official Python SDK (PyPI `mcp`) and
the FastMCP client (PyPI `fastmcp`), both pinned in requirements.lock, each in its default mode
(2026-07-28: the server answers `input_required` and the client retries) and in handshake mode
(the server sends `sampling/createMessage` on the connection). The callback's answer must come
back in the tool's result."""

import asyncio

import mcp_types as types
import pytest
from fastmcp import Client as FastMCPClient
from fastmcp.client.transports import StdioTransport
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from conftest import example

MODES = ["auto", "legacy"]
ERA = {"auto": "2026-07-28", "legacy": "2025-11-25"}


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=60))


@pytest.mark.parametrize("mode", MODES)
def test_official_client_answers_summarize(mode):
    seen = []

    async def sampling(context, params: types.CreateMessageRequestParams):
        seen.append(params)
        prompt = params.messages[0].content.text
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=f"ONE LINE ({len(prompt)} chars)"),
            model="python-sdk-test-model",
        )

    async def main():
        server = StdioServerParameters(command=example("quickstart"), args=[])
        async with Client(server, mode=mode, sampling_callback=sampling) as client:
            assert client.protocol_version == ERA[mode]
            result = await client.call_tool("summarize", {"text": "The cat sat on the mat."})
            assert result.is_error is False, result
            prompt = "Summarize in one line:\nThe cat sat on the mat."
            assert result.content[0].text == f"ONE LINE ({len(prompt)} chars)"
            assert len(seen) == 1
            assert seen[0].max_tokens == 200
            assert seen[0].messages[0].role == "user"

    run(main())


@pytest.mark.parametrize("mode", MODES)
def test_official_client_answers_an_elicitation(mode):
    async def elicitation(context, params):
        assert params.requested_schema["properties"]["confirm"]["type"] == "boolean"
        return types.ElicitResult(action="accept", content={"confirm": True})

    async def main():
        server = StdioServerParameters(command=example("quickstart"), args=[])
        async with Client(server, mode=mode, elicitation_callback=elicitation) as client:
            await client.call_tool("increment", {"by": 3})
            result = await client.call_tool("reset", {})
            assert result.content[0].text == "The counter is back at 0."
            peek = await client.call_tool("peek", {})
            assert peek.structured_content == {"result": 0}

    run(main())


@pytest.mark.parametrize("mode", MODES)
def test_official_client_without_sampling_gets_the_missing_capability(mode):
    async def main():
        server = StdioServerParameters(command=example("quickstart"), args=[])
        async with Client(server, mode=mode) as client:
            if mode == "auto":
                with pytest.raises(Exception) as info:
                    await client.call_tool("summarize", {"text": "x"})
                assert "-32021" in repr(info.value) or "capability" in str(info.value).lower()
            else:
                result = await client.call_tool("summarize", {"text": "x"})
                assert result.is_error is True
                assert "sampling" in result.content[0].text

    run(main())


@pytest.mark.parametrize("mode", MODES)
def test_fastmcp_client_answers_summarize(mode):
    async def sampling(messages, params, context):
        return f"fastmcp saw: {messages[0].content.text.splitlines()[-1]}"

    async def main():
        transport = StdioTransport(command=example("quickstart"), args=[])
        async with FastMCPClient(transport, sampling_handler=sampling, mode=mode) as client:
            assert client.protocol_version == ERA[mode]
            result = await client.call_tool("summarize", {"text": "Rust is fast."})
            assert result.content[0].text == "fastmcp saw: Rust is fast."

    run(main())
