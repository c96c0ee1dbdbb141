"""The official Python SDK client (PyPI `mcp`, pinned in requirements.lock) against
examples/quickstart over stdio, in its default mode (probes `server/discover`, so the
2026-07-28 stateless era) and in handshake mode (`initialize`)."""

import asyncio

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from conftest import example

MODES = ["auto", "legacy"]


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=60))


def params() -> StdioServerParameters:
    return StdioServerParameters(command=example("quickstart"), args=[])


@pytest.mark.parametrize("mode", MODES)
def test_era_server_info_and_tool_list(mode):
    async def main():
        async with Client(params(), mode=mode) as client:
            expected = "2026-07-28" if mode == "auto" else "2025-11-25"
            assert client.protocol_version == expected
            assert client.server_info is not None
            assert client.server_info.name == "quickstart"
            assert client.instructions == "Arithmetic, summaries by your own model, and a shared counter."
            listed = await client.list_tools()
            names = [t.name for t in listed.tools]
            assert names == ["add", "divide", "stats", "greet", "summarize", "research", "increment", "peek", "reset"]
            add = listed.tools[0]
            assert add.description == "Add two numbers."
            assert add.input_schema["required"] == ["a", "b"]
            assert add.annotations.read_only_hint is True

    run(main())


@pytest.mark.parametrize("mode", MODES)
def test_add_returns_structured_content(mode):
    async def main():
        async with Client(params(), mode=mode) as client:
            result = await client.call_tool("add", {"a": 2, "b": 3})
            assert result.is_error is False
            assert result.structured_content == {"result": 5}
            assert result.content[0].text == "5"

    run(main())


@pytest.mark.parametrize("mode", MODES)
def test_errors_are_visible_to_the_model(mode):
    async def main():
        async with Client(params(), mode=mode) as client:
            result = await client.call_tool("divide", {"dividend": 1, "divisor": 0})
            assert result.is_error is True
            assert result.content[0].text == "cannot divide by zero"
            bad = await client.call_tool("add", {"a": "two", "b": 3})
            assert bad.is_error is True
            assert "invalid argument `a`" in bad.content[0].text
            # The server keeps serving after both.
            ok = await client.call_tool("stats", {"numbers": [1, 2, 3]})
            assert ok.structured_content == {"count": 3, "sum": 6.0, "mean": 2.0}

    run(main())
