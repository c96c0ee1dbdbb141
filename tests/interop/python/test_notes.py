"""The official Python SDK client (PyPI `mcp`, pinned) against examples/notes over stdio, in its
default mode (2026-07-28) and in handshake mode: list and read resources, read a template URI,
get a prompt with arguments, complete an argument."""

import asyncio

import mcp_types as types
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from conftest import example

MODES = ["auto", "legacy"]


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=60))


def params() -> StdioServerParameters:
    return StdioServerParameters(command=example("notes"), args=[])


@pytest.mark.parametrize("mode", MODES)
def test_resources_templates_and_reads(mode):
    async def main():
        async with Client(params(), mode=mode) as client:
            resources = await client.list_resources()
            assert [r.uri for r in resources.resources] == ["notes://index"]
            templates = await client.list_resource_templates()
            assert [t.uri_template for t in templates.resource_templates] == ["notes://{id}"]
            index = await client.read_resource("notes://index")
            assert index.contents[0].text == "1: # Groceries\n2: # Ideas\n"
            note = await client.read_resource("notes://2")
            assert note.contents[0].mime_type == "text/markdown"
            assert "both eras" in note.contents[0].text

    run(main())


@pytest.mark.parametrize("mode", MODES)
def test_missing_note_is_an_error_not_empty_contents(mode):
    async def main():
        async with Client(params(), mode=mode) as client:
            with pytest.raises(Exception) as info:
                await client.read_resource("notes://99")
            assert "notes://99" in str(info.value)

    run(main())


@pytest.mark.parametrize("mode", MODES)
def test_prompt_with_arguments_and_completion(mode):
    async def main():
        async with Client(params(), mode=mode) as client:
            prompts = await client.list_prompts()
            review = prompts.prompts[0]
            assert review.name == "review"
            assert [(a.name, a.required) for a in review.arguments] == [("id", True), ("style", False)]
            got = await client.get_prompt("review", {"id": "1", "style": "critical"})
            assert got.messages[0].content.type == "resource"
            assert got.messages[0].content.resource.uri == "notes://1"
            assert got.messages[1].content.text == "Review the note above. Be critical."
            done = await client.complete(types.PromptReference(type="ref/prompt", name="review"), {"name": "style", "value": "c"})
            assert done.completion.values == ["concise", "critical"]

    run(main())
