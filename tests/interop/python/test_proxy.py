"""examples/proxy between real third-party parts on both sides: in front, the official Python SDK
client (PyPI `mcp` 2.3.0) and the FastMCP client (4.1.2), each in stateless mode (2026-07-28,
"auto") and in handshake mode (2025-11-25, "legacy"), over Streamable HTTP; behind, a FastMCP
server (upstream_server.py) over stdio, under FastMCP 4.x and 3.x.

The upstreams, and the era the proxy speaks to each:

- fastmcp4@2026-07-28: FastMCP 4.1.2, the proxy's default (the newest era the upstream answers).
  The upstream asks for sampling and elicitation with `input_required` rounds.
- fastmcp4@2025-11-25: the same server, the proxy started with `--upstream-era 2025-11-25`.
  The upstream sends real `sampling/createMessage` and `elicitation/create` requests.
- fastmcp3@2025-11-25: FastMCP 3.x, which speaks the handshake era only (`ctx.sample()` and
  `ctx.elicit()` send real requests).

So every pairing of eras is covered: a 2026-07-28 client in front of a 2025-11-25 upstream gets
`input_required` rounds for the upstream's requests; a 2025-11-25 client in front of a
2026-07-28 upstream gets real requests for the upstream's `input_required` rounds. Test ids
read `<client>@<front era>-><upstream>@<upstream era>`; the upstream records the version of
each call it serves, and the tests check it.
"""

import asyncio
import contextlib
import os
import pathlib
import subprocess
import sys

import mcp_types as types
import pytest
from fastmcp import Client as FastMCPClient
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from conftest import UPSTREAM_SERVER, example, free_port, upstream_python, wait_for_port

STATELESS, HANDSHAKE = "2026-07-28", "2025-11-25"
MODE = {STATELESS: "auto", HANDSHAKE: "legacy"}

# (name, FastMCP major version, the era the proxy speaks to it, extra proxy flags)
UPSTREAMS = {
    "fastmcp4@2026-07-28": (4, STATELESS, []),
    "fastmcp4@2025-11-25": (4, HANDSHAKE, ["--upstream-era", HANDSHAKE]),
    "fastmcp3@2025-11-25": (3, HANDSHAKE, []),
}
FRONTS = [("official", STATELESS), ("official", HANDSHAKE), ("fastmcp", STATELESS), ("fastmcp", HANDSHAKE)]

def _pairings():
    for upstream in UPSTREAMS:
        for client, front_era in FRONTS:
            yield pytest.param(client, front_era, upstream, id=f"{client}@{front_era}->{upstream}")


def pairings():
    return list(_pairings())


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=60))


class Proxy:
    """examples/proxy serving Streamable HTTP in front of upstream_server.py over stdio."""

    def __init__(self, name: str, tmp: pathlib.Path):
        major, self.era, flags = UPSTREAMS[name]
        self.python = upstream_python(major)
        self.era_log = tmp / f"{name}.eras"
        self.stderr = tmp / f"{name}.stderr"
        port = free_port()
        env = dict(os.environ, MCP_UPSTREAM_ERA_LOG=str(self.era_log))
        with open(self.stderr, "wb") as stderr:
            self.proc = subprocess.Popen(
                [example("proxy"), "--http", f"127.0.0.1:{port}", *flags, "--", self.python, str(UPSTREAM_SERVER)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=env,
            )
        self.url = f"http://127.0.0.1:{port}/mcp"
        try:
            wait_for_port(port, self.proc)
        except BaseException:
            self.stop()
            print(f"the proxy's stderr:\n{self.stderr.read_text()}", file=sys.stderr)
            raise

    def upstream_era_of_last(self, tool: str) -> str:
        """The protocol version of the last call of `tool` the upstream served."""
        lines = [line.split() for line in self.era_log.read_text().splitlines()]
        return [version for name, version in lines if name == tool][-1]

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="module")
def proxies(tmp_path_factory):
    """One proxy per upstream, started on first use and shared by the module's tests."""
    started: dict[str, Proxy] = {}
    tmp = tmp_path_factory.mktemp("proxy")

    def get(name: str) -> Proxy:
        if name not in started:
            started[name] = Proxy(name, tmp)
        return started[name]

    yield get
    for proxy in started.values():
        proxy.stop()


class Front:
    """A test client, official or FastMCP, in one era, with callbacks that record what they see."""

    def __init__(self, client: str, era: str, url_or_command, model_delay: float = 0):
        self.kind, self.era = client, era
        self.sampled: list[str] = []  # the prompt of each sampling request
        self.elicited: list[tuple[str, dict]] = []  # (message, schema) of each elicitation
        self.logs: list[object] = []  # the data of each log message
        self.progress: list[tuple[float, float | None, str | None]] = []
        if client == "official":

            async def sampling(context, params: types.CreateMessageRequestParams):
                prompt = params.messages[0].content.text
                self.sampled.append(prompt)
                await asyncio.sleep(model_delay)
                return types.CreateMessageResult(
                    role="assistant",
                    content=types.TextContent(type="text", text=f"official model on `{prompt.splitlines()[-1]}`"),
                    model="official-test-model",
                )

            async def elicitation(context, params):
                self.elicited.append((params.message, params.requested_schema))
                return types.ElicitResult(action="accept", content={"value": True})

            async def logging(params: types.LoggingMessageNotificationParams):
                self.logs.append(params.data)

            # log_level opts in to log messages on 2026-07-28 (no effect on 2025-11-25).
            self.client = Client(
                url_or_command,
                mode=MODE[era],
                sampling_callback=sampling,
                elicitation_callback=elicitation,
                logging_callback=logging,
                log_level="debug",
            )
        else:

            async def sampling(messages, params, context):
                prompt = messages[0].content.text
                self.sampled.append(prompt)
                await asyncio.sleep(model_delay)
                return f"fastmcp model on `{prompt.splitlines()[-1]}`"

            async def elicitation(message, response_type, params, context):
                self.elicited.append((message, params.requested_schema))
                return True

            async def log(message):
                self.logs.append(message.data)

            async def progress(value, total, message):
                self.progress.append((value, total, message))

            # The FastMCP client opts in to every log level on 2026-07-28 by itself.
            self.client = FastMCPClient(
                url_or_command,
                mode=MODE[era],
                sampling_handler=sampling,
                elicitation_handler=elicitation,
                log_handler=log,
                progress_handler=progress,
            )

    async def __aenter__(self):
        await self.client.__aenter__()
        assert self.client.protocol_version == self.era
        return self

    async def __aexit__(self, *exc):
        return await self.client.__aexit__(*exc)

    def model_answer(self, prompt: str) -> str:
        return f"{self.kind} model on `{prompt.splitlines()[-1]}`"

    async def tools(self) -> list[dict]:
        tools = (await self.client.list_tools()) if self.kind == "fastmcp" else (await self.client.list_tools()).tools
        return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]

    async def call(self, name: str, arguments: dict):
        """Calls a tool; returns (first text content, structured content, is_error)."""
        if self.kind == "official":

            async def progress(value, total, message):
                self.progress.append((value, total, message))

            result = await self.client.call_tool(name, arguments, progress_callback=progress)
        else:
            result = await self.client.call_tool(name, arguments, raise_on_error=False)
        return result.content[0].text, result.structured_content, result.is_error


def front(client, era, proxy):
    return Front(client, era, proxy.url)


@pytest.mark.parametrize("client,front_era,upstream", pairings())
def test_the_tool_list_is_the_upstreams_and_add_works(proxies, client, front_era, upstream):
    proxy = proxies(upstream)

    async def main():
        direct = StdioServerParameters(command=proxy.python, args=[str(UPSTREAM_SERVER)])
        if client == "fastmcp":
            from fastmcp.client.transports import StdioTransport

            direct = StdioTransport(command=proxy.python, args=[str(UPSTREAM_SERVER)])
        # The upstream's own list, asked directly by the same kind of client in the era the
        # proxy speaks to the upstream.
        async with Front(client, proxy.era, direct) as upstream_client:
            upstream_tools = await upstream_client.tools()
        async with front(client, front_era, proxy) as c:
            tools = await c.tools()
            assert [t["name"] for t in tools] == ["add", "slow", "summarize", "confirm"]
            assert tools == upstream_tools
            assert await c.call("add", {"a": 2, "b": 40}) == ("42", {"result": 42}, False)

    run(main())


@pytest.mark.parametrize("client,front_era,upstream", pairings())
def test_summarize_reaches_the_front_clients_sampling_once(proxies, client, front_era, upstream):
    """The sampling round trip in the pairing the id names: the upstream's question (a real
    request, or an `input_required` round, as the upstream's era has it) reaches the test
    client's own sampling callback exactly once (likewise in the client's era), and the model's
    text comes back in the tool's result."""
    proxy = proxies(upstream)

    async def main():
        async with front(client, front_era, proxy) as c:
            text, structured, is_error = await c.call("summarize", {"text": "The cat sat on the mat."})
            assert is_error is False, text
            prompt = "Summarize in one line:\nThe cat sat on the mat."
            assert c.sampled == [prompt]
            assert text == f"Summary: {c.model_answer(prompt)}"
            assert structured == {"result": text}
            assert proxy.upstream_era_of_last("summarize") == proxy.era

    run(main())


@pytest.mark.parametrize("client,front_era,upstream", pairings())
def test_confirm_reaches_the_front_clients_elicitation(proxies, client, front_era, upstream):
    proxy = proxies(upstream)

    async def main():
        async with front(client, front_era, proxy) as c:
            text, _, is_error = await c.call("confirm", {"action": "deploy"})
            assert is_error is False, text
            assert len(c.elicited) == 1
            message, schema = c.elicited[0]
            assert message == "Really deploy?"
            assert schema["properties"]["value"]["type"] == "boolean"
            assert text == "deploy: confirmed=True"
            assert proxy.upstream_era_of_last("confirm") == proxy.era

    run(main())


@pytest.mark.parametrize("client,front_era,upstream", pairings())
def test_slow_reports_progress_to_the_front_client(proxies, client, front_era, upstream):
    proxy = proxies(upstream)

    async def main():
        async with front(client, front_era, proxy) as c:
            text, _, is_error = await c.call("slow", {"seconds": 0.2})
            assert (text, is_error) == ("slept 0.2s", False)
            assert c.progress == [(float(i), 4.0, f"step {i} of 4") for i in range(1, 5)]
            assert proxy.upstream_era_of_last("slow") == proxy.era

    run(main())


@pytest.mark.parametrize("client,front_era,upstream", pairings())
def test_slow_logs_reach_the_front_client(proxies, client, front_era, upstream):
    proxy = proxies(upstream)

    async def main():
        async with front(client, front_era, proxy) as c:
            text, _, _ = await c.call("slow", {"seconds": 0.1})
            assert text == "slept 0.1s"
            assert proxy.upstream_era_of_last("slow") == proxy.era
            assert c.logs == [{"msg": "slow: starting, 0.1s", "extra": None}]

    run(main())


@pytest.mark.parametrize("client,front_era,upstream", pairings())
def test_the_upstreams_resource_and_prompt_are_served(proxies, client, front_era, upstream):
    proxy = proxies(upstream)

    async def main():
        async with front(client, front_era, proxy) as c:
            inner = c.client
            if client == "official":
                resources = (await inner.list_resources()).resources
                contents = (await inner.read_resource("data://greeting")).contents
                prompts = (await inner.list_prompts()).prompts
                prompt = await inner.get_prompt("review", {"code": "fn main() {}"})
            else:
                resources = await inner.list_resources()
                contents = await inner.read_resource("data://greeting")
                prompts = await inner.list_prompts()
                prompt = await inner.get_prompt("review", {"code": "fn main() {}"})
            assert [str(r.uri) for r in resources] == ["data://greeting"]
            assert contents[0].text == "Hello from the upstream."
            assert [p.name for p in prompts] == ["review"]
            assert prompt.messages[0].content.text == "Please review this code:\nfn main() {}"

    run(main())


@pytest.mark.parametrize("client,front_era,upstream", [p for p in pairings() if p.values[0] == "official"])
def test_concurrent_summarize_calls_never_cross_clients(proxies, client, front_era, upstream):
    """Two clients of one proxy call summarize at once. Towards a 2026-07-28 upstream each
    one's model is asked its own prompt, once, and each gets its own model's answer (the round
    comes back as the result of the call that asked). Towards a 2025-11-25 upstream nothing on
    the wire says which call a sampling request belongs to: the proxy then refuses to guess, so
    a call may fail, but no client's model is ever asked another client's prompt."""
    proxy = proxies(upstream)

    async def main():
        async with contextlib.AsyncExitStack() as stack:
            # Models that take a moment, so that both calls are in flight when either asks.
            a = await stack.enter_async_context(Front(client, front_era, proxy.url, model_delay=0.3))
            b = await stack.enter_async_context(Front(client, front_era, proxy.url, model_delay=0.3))
            (text_a, _, _), (text_b, _, _) = await asyncio.gather(
                a.call("summarize", {"text": "written by A"}), b.call("summarize", {"text": "written by B"})
            )
        return a.sampled, b.sampled, text_a, text_b

    asked_a, asked_b, text_a, text_b = run(main())
    if UPSTREAMS[upstream][1] == STATELESS:
        assert asked_a == ["Summarize in one line:\nwritten by A"]
        assert asked_b == ["Summarize in one line:\nwritten by B"]
        assert text_a == "Summary: official model on `written by A`"
        assert text_b == "Summary: official model on `written by B`"
    else:
        assert set(asked_a) <= {"Summarize in one line:\nwritten by A"}, asked_a
        assert set(asked_b) <= {"Summarize in one line:\nwritten by B"}, asked_b
        for text, own in [(text_a, "written by A"), (text_b, "written by B")]:
            assert own in text or "written by" not in text, text
