"""A fleet: three replicas of examples/quickstart (`--redis`, one `MCP_STATE_KEY`) behind a real
nginx (Debian's package) that balances round robin with no affinity, sharing a real Redis. The
official Python SDK and FastMCP clients drive it in the 2026-07-28 era, where a call and its
`input_required` retry land on different replicas, and in the handshake era, where a session's
requests and the client's answers land on any replica: sampling and elicitation must complete.

`.ci/run` installs `redis-server` and `nginx-light`; elsewhere, without them, these tests show as
skipped, with the reason."""

import asyncio
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time

import mcp_types as types
import pytest
from fastmcp import Client as FastMCPClient
from mcp import Client

from conftest import example

KEY = "2a" * 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, proc: subprocess.Popen, what: str):
    for _ in range(200):
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"{what} did not listen on {port}")


NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    log_format upstream '$upstream_addr $request_method';
    access_log {tmp}/access.log upstream;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream replicas {{
        {servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://replicas;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_buffering off;
            proxy_read_timeout 60s;
        }}
    }}
}}
"""


class Fleet:
    """Redis, three quickstart replicas and nginx in front, on free loopback ports."""

    def __init__(self):
        for tool in ("redis-server", "nginx"):
            if shutil.which(tool) is None:
                pytest.skip(f"needs {tool} on PATH (.ci/run installs it: apt-get install redis-server nginx-light)")
        self.procs = []
        self.replicas = []
        self.tmp = tempfile.mkdtemp(prefix="mcp-fleet-")
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self):
        redis_port = free_port()
        redis = subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.procs.append(redis)
        wait_for(redis_port, redis, "redis-server")
        self.ports = [free_port() for _ in range(3)]
        env = dict(os.environ, MCP_STATE_KEY=KEY)
        for port in self.ports:
            replica = subprocess.Popen(
                [example("quickstart"), "--http", f"127.0.0.1:{port}", "--redis", f"redis://127.0.0.1:{redis_port}/"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            self.procs.append(replica)
            self.replicas.append(replica)
            wait_for(port, replica, "a quickstart replica (built with --features redis?)")
        nginx_port = free_port()
        conf = pathlib.Path(self.tmp) / "nginx.conf"
        servers = "\n        ".join(f"server 127.0.0.1:{p};" for p in self.ports)
        conf.write_text(NGINX_CONF.format(tmp=self.tmp, servers=servers, port=nginx_port))
        nginx = subprocess.Popen(["nginx", "-p", self.tmp, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.procs.append(nginx)
        wait_for(nginx_port, nginx, "nginx")
        self.url = f"http://127.0.0.1:{nginx_port}/mcp"
        self.access_log = pathlib.Path(self.tmp) / "access.log"

    def kill(self, i: int):
        """Kills replica `i` (SIGKILL: no goodbye)."""
        self.replicas[i].kill()
        self.replicas[i].wait()

    def stop(self):
        for proc in reversed(self.procs):
            proc.kill()
            proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def fleet():
    """Yields (the URL behind nginx, the nginx access log's path, the replicas' ports)."""
    f = Fleet()
    try:
        yield f.url, f.access_log, f.ports
    finally:
        f.stop()


@pytest.fixture
def own_fleet():
    """A fleet for one test, which may kill its replicas."""
    f = Fleet()
    try:
        yield f
    finally:
        f.stop()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=60))


def test_official_client_samples_and_elicits_through_the_fleet(fleet):
    url, access_log, ports = fleet
    asked = []

    async def sampling(context, params: types.CreateMessageRequestParams):
        asked.append(params.messages[0].content.text)
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text=f"summary #{len(asked)}"), model="m"
        )

    async def elicitation(context, params):
        return types.ElicitResult(action="accept", content={"confirm": True})

    async def main():
        async with Client(url, mode="auto", sampling_callback=sampling, elicitation_callback=elicitation) as client:
            assert client.protocol_version == "2026-07-28"
            assert "summarize" in [t.name for t in (await client.list_tools()).tools]
            for i in range(1, 7):
                result = await client.call_tool("summarize", {"text": f"text {i}"})
                assert result.is_error is False, result
                assert result.content[0].text == f"summary #{i}"
            reset = await client.call_tool("reset", {})
            assert reset.content[0].text == "The counter is back at 0."

    run(main())
    # Six samples, each asked once: a retry that landed on another replica replayed the call
    # from the answers in its sealed state, and did not ask the client again.
    assert asked == [f"Summarize in one line:\ntext {i}" for i in range(1, 7)]
    served = {line.split()[0] for line in access_log.read_text().splitlines()}
    assert served == {f"127.0.0.1:{p}" for p in ports}, f"round robin reached every replica: {served}"


def test_fastmcp_client_samples_through_the_fleet(fleet):
    url, _, _ = fleet

    async def sampling(messages, params, context):
        return f"fastmcp saw: {messages[0].content.text.splitlines()[-1]}"

    async def main():
        async with FastMCPClient(url, sampling_handler=sampling, mode="auto") as client:
            assert client.protocol_version == "2026-07-28"
            for word in ["one", "two", "three"]:
                result = await client.call_tool("summarize", {"text": word})
                assert result.content[0].text == f"fastmcp saw: {word}"

    run(main())


def test_official_client_in_a_handshake_era_session_through_the_fleet(fleet):
    """The session is opened on one replica; its calls, the client's answers to the server's
    sampling requests and its notification stream land on any of them."""
    url, _, _ = fleet

    async def sampling(context, params: types.CreateMessageRequestParams):
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="sampled"), model="m"
        )

    async def elicitation(context, params):
        return types.ElicitResult(action="accept", content={"confirm": True})

    async def main():
        async with Client(url, mode="legacy", sampling_callback=sampling, elicitation_callback=elicitation) as client:
            assert client.protocol_version == "2025-11-25"
            for i in range(6):
                result = await client.call_tool("summarize", {"text": f"text {i}"})
                assert result.content[0].text == "sampled"
            reset = await client.call_tool("reset", {})
            assert reset.content[0].text == "The counter is back at 0."

    run(main())


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_fastmcp_client_elicits_through_the_fleet(fleet, mode):
    url, _, _ = fleet

    async def elicitation(message, response_type, params, context):
        assert params.requested_schema["properties"]["confirm"]["type"] == "boolean"
        return {"confirm": True}

    async def main():
        async with FastMCPClient(url, elicitation_handler=elicitation, mode=mode) as client:
            for _ in range(3):
                result = await client.call_tool("reset", {})
                assert result.content[0].text == "The counter is back at 0."

    run(main())


def test_fastmcp_tasks_client_drives_tasks_through_the_fleet(fleet):
    """PyPI `fastmcp-tasks` (the 2026-07-28 tasks extension, run in a subprocess: see
    test_tasks.py) through the balancer: the task runs on the replica that took its `tools/call`,
    while its `tasks/get` polls, the `tasks/update` carrying the answer and the `tasks/cancel`
    land on the replicas in turn, which share the task through Redis. (The counter itself is
    each replica's own, so unlike test_tasks.py this does not peek at it.)"""
    from test_tasks import drive

    url, access_log, ports = fleet
    before = len(access_log.read_text().splitlines())

    reset = drive("reset", url)
    assert reset["polled"][-1]["status"] == "input_required"
    (request,) = reset["polled"][-1]["inputRequests"].values()
    assert request["method"] == "elicitation/create"
    assert [a["message"] for a in reset["asked"]] == ["Reset the shared counter to zero?"]
    assert reset["result"] == ["The counter is back at 0."]
    assert reset["final"]["status"] == "completed"
    assert reset["transparent_result"] == ["The counter is back at 0."]

    research = drive("research", url)
    statuses = [t["status"] for t in research["polled"]]
    assert statuses[-1] == "completed" and "input_required" in statuses, statuses
    messages = [t["statusMessage"] for t in research["polled"] if t["status"] == "working" and "statusMessage" in t]
    assert messages and all(m.endswith(" of 3: reading about otters") for m in messages), messages
    assert research["result"] == ["Research on otters: otters hold hands"]

    cancel = drive("cancel", url)
    assert cancel["after"]["status"] == "cancelled"
    assert cancel["later"]["status"] == "cancelled"
    assert cancel["later"].get("statusMessage") == cancel["after"].get("statusMessage")
    assert cancel["unknown"]["code"] == -32602

    served = {line.split()[0] for line in access_log.read_text().splitlines()[before:]}
    assert served == {f"127.0.0.1:{p}" for p in ports}, f"round robin reached every replica: {served}"


def test_fastmcp_client_in_a_handshake_era_session_through_the_fleet(fleet):
    url, _, _ = fleet

    async def sampling(messages, params, context):
        return f"fastmcp saw: {messages[0].content.text.splitlines()[-1]}"

    async def main():
        async with FastMCPClient(url, sampling_handler=sampling, mode="legacy") as client:
            assert client.protocol_version == "2025-11-25"
            for word in ["one", "two", "three"]:
                result = await client.call_tool("summarize", {"text": word})
                assert result.content[0].text == f"fastmcp saw: {word}"

    run(main())


def test_a_replica_killed_mid_call_costs_no_call(own_fleet):
    """Stateless era: a replica dies between a call and its retry; the retry completes on
    another. Handshake era: a replica dies; the session goes on serving new calls."""
    killed = []

    async def sampling(context, params: types.CreateMessageRequestParams):
        if not killed:
            own_fleet.kill(0)  # between the call and its retry
            killed.append(0)
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="still here"), model="m"
        )

    async def stateless():
        async with Client(own_fleet.url, mode="auto", sampling_callback=sampling) as client:
            for i in range(4):
                result = await client.call_tool("summarize", {"text": f"text {i}"})
                assert result.content[0].text == "still here", result

    run(stateless())
    assert killed == [0]

    async def handshake():
        async with Client(own_fleet.url, mode="legacy", sampling_callback=sampling) as client:
            first = await client.call_tool("summarize", {"text": "before"})
            assert first.content[0].text == "still here"
            own_fleet.kill(1)
            for i in range(4):
                added = await client.call_tool("add", {"a": i, "b": 1})
                assert added.structured_content == {"result": i + 1}
                result = await client.call_tool("summarize", {"text": f"after {i}"})
                assert result.content[0].text == "still here", result

    run(handshake())


async def until_heard(client, heard, count, tries=10):
    """Increments the counter until `heard` holds `count` updates: an update made before the
    client's stream is (re)open has nobody to reach, so a slow machine may need more than one."""
    for _ in range(tries):
        await client.call_tool("increment", {"by": 1})
        for _ in range(30):
            if len(heard) >= count:
                return
            await asyncio.sleep(0.1)
    pytest.fail(f"heard {len(heard)} updates, wanted {count}: {heard}")


def test_a_subscriber_hears_updates_made_through_any_replica(fleet):
    """Both eras: a handshake-era session subscribes to the counter (`resources/subscribe`), and a
    2026-07-28 client listens to it (`subscriptions/listen`), each through the balancer; increments
    land on every replica in turn; every update reaches every subscriber, wherever its stream is."""
    url, _, _ = fleet
    heard = []

    async def on_message(message):
        if getattr(message, "method", None) == "notifications/resources/updated":
            heard.append(str(message.params.uri))

    async def handshake():
        async with Client(url, mode="legacy", message_handler=on_message) as client:
            await client.subscribe_resource("counter://value")
            for count in range(1, 4):  # each increment on the next replica in turn
                await until_heard(client, heard, count)

    run(handshake())
    assert set(heard) == {"counter://value"}, heard

    async def stateless():
        async with Client(url, mode="auto") as listener, Client(url, mode="auto") as writer:
            async with listener.listen(resource_subscriptions=["counter://value"]) as sub:
                await asyncio.sleep(0.5)
                events = []
                updates = sub.__aiter__()
                # One at a time: the SDK folds identical events still pending into one.
                for _ in range(3):
                    await writer.call_tool("increment", {"by": 1})
                    events.append(await asyncio.wait_for(updates.__anext__(), timeout=10))
                return events

    events = run(stateless())
    assert [e.uri for e in events] == ["counter://value"] * 3, events


def stream_holder(fleet) -> int:
    """The replica holding the one long-lived connection from nginx: a session's GET stream
    (nginx keeps no idle connections to the replicas)."""
    for _ in range(50):
        out = subprocess.run(["ss", "-Htn", "state", "established"], capture_output=True, text=True).stdout
        held = [i for i, p in enumerate(fleet.ports) if any(line.split()[-1].endswith(f":{p}") for line in out.splitlines() if line.split())]
        if len(held) == 1:
            return held[0]
        time.sleep(0.1)
    pytest.fail(f"no single replica holds the stream: {out}")


def test_a_stream_resumes_on_another_replica_when_its_replica_dies(own_fleet):
    """The replica holding a session's GET stream is killed: the client reconnects with
    `Last-Event-ID` through the balancer to another replica, which resumes the stream from the
    log in Redis and goes on with it; updates keep arriving."""
    if shutil.which("ss") is None:
        pytest.skip("needs ss (iproute2) to find the replica that holds the stream")
    heard = []

    async def on_message(message):
        if getattr(message, "method", None) == "notifications/resources/updated":
            heard.append(str(message.params.uri))

    async def main():
        async with Client(own_fleet.url, mode="legacy", message_handler=on_message) as client:
            await client.subscribe_resource("counter://value")
            await until_heard(client, heard, 1)
            own_fleet.kill(stream_holder(own_fleet))
            await asyncio.sleep(1.5)  # the client reconnects after the server's `retry` hint
            before = len(heard)
            for count in range(before + 1, before + 4):
                await until_heard(client, heard, count)
            assert set(heard) == {"counter://value"}, heard

    run(main())
