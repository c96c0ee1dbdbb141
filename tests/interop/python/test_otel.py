"""OpenTelemetry (feature `otel`): the official Python SDK client (PyPI `mcp`), which writes W3C
trace context into each request's `params._meta` when OpenTelemetry is installed, calls tools of
examples/otel over stdio inside a client span; the server exports its spans and metrics over
OTLP/HTTP (protobuf) to a receiver this test runs. The server's span must be the child of the
client's span, named and attributed after the MCP semantic conventions, and the server's own
request to the client must carry the trace context: a `sampling/createMessage` request in the
handshake era, under a CLIENT span of its own; an `inputRequests` entry in the 2026-07-28 era. Over
Streamable HTTP the spans carry the session's id, and a `traceparent` header is the parent when
`_meta` names none."""

import asyncio
import json
import os
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import mcp_types as types
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from opentelemetry import trace
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from conftest import example, serve_http

MODES = ["auto", "legacy"]
ERA = {"auto": "2026-07-28", "legacy": "2025-11-25"}
SPAN_KIND_SERVER = 2
SPAN_KIND_CLIENT = 3
STATUS_CODE_ERROR = 2

# The client's spans: the SDK's tracer follows the global provider once it is set (once per
# process, so here, for every test of the run).
CLIENT_SPANS = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(CLIENT_SPANS))
trace.set_tracer_provider(_provider)
tracer = trace.get_tracer("mcp-otel-test")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=60))


def value(any_value):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def attributes(kvs):
    return {kv.key: value(kv.value) for kv in kvs}


class Receiver:
    """An OTLP/HTTP receiver: decodes the protobuf export requests the server posts."""

    def __init__(self):
        self.spans = []
        self.metrics = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.receive(self.path, self.headers.get("Content-Type"), body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def receive(self, path, content_type, body):
        assert content_type == "application/x-protobuf", content_type
        with self.lock:
            if path == "/v1/traces":
                request = ExportTraceServiceRequest.FromString(body)
                for rs in request.resource_spans:
                    resource = attributes(rs.resource.attributes)
                    for ss in rs.scope_spans:
                        for span in ss.spans:
                            self.spans.append((resource, span))
            elif path == "/v1/metrics":
                request = ExportMetricsServiceRequest.FromString(body)
                for rm in request.resource_metrics:
                    for sm in rm.scope_metrics:
                        for metric in sm.metrics:
                            points = self.metrics.setdefault(metric.name, [])
                            points.extend((metric.unit, p) for p in metric.histogram.data_points)

    def server_spans(self, name):
        with self.lock:
            return [s for _, s in self.spans if s.name == name]

    def wait_for(self, check, what):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with self.lock:
                if check():
                    return
            time.sleep(0.05)
        pytest.fail(f"the OTLP receiver never got {what}; spans: {[s.name for _, s in self.spans]}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def server(receiver):
    env = dict(os.environ)
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_SERVICE_NAME="mcp-otel-example",
        OTEL_BSP_SCHEDULE_DELAY="50",
        OTEL_METRIC_EXPORT_INTERVAL="200",
    )
    return StdioServerParameters(command=example("otel"), args=[], env=env)


def client_span(name, trace_id):
    spans = [s for s in CLIENT_SPANS.get_finished_spans() if s.name == name and s.context.trace_id == trace_id]
    assert len(spans) >= 1, [s.name for s in CLIENT_SPANS.get_finished_spans()]
    return spans


@pytest.mark.parametrize("mode", MODES)
def test_server_span_is_the_child_of_the_clients(mode, receiver):
    sampled = []

    async def sampling(context, params: types.CreateMessageRequestParams):
        meta = params.meta
        sampled.append(dict(meta) if isinstance(meta, dict) else (meta.model_dump() if meta is not None else {}))
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="ONE LINE"), model="test-model"
        )

    async def main():
        async with Client(server(receiver), mode=mode, sampling_callback=sampling) as client:
            assert client.protocol_version == ERA[mode]
            added = await client.call_tool("add", {"a": 2, "b": 3})
            assert added.is_error is False
            divided = await client.call_tool("divide", {"dividend": 1, "divisor": 0})
            assert divided.is_error is True
            summary = await client.call_tool("summarize", {"text": "The cat sat on the mat."})
            assert summary.is_error is False, summary

    with tracer.start_as_current_span("test " + mode) as root:
        run(main())
    trace_id = root.get_span_context().trace_id

    receiver.wait_for(
        lambda: any(s.name == "tools/call summarize" for _, s in receiver.spans), "the span of tools/call summarize"
    )

    # tools/call add: the child of the client's span, on the client's trace.
    (sent,) = client_span("MCP send tools/call add", trace_id)
    (add,) = receiver.server_spans("tools/call add")
    assert add.trace_id.hex() == f"{trace_id:032x}"
    assert add.parent_span_id.hex() == f"{sent.context.span_id:016x}"
    assert add.kind == SPAN_KIND_SERVER
    attrs = attributes(add.attributes)
    assert attrs["mcp.method.name"] == "tools/call"
    assert attrs["gen_ai.tool.name"] == "add"
    assert attrs["gen_ai.operation.name"] == "execute_tool"
    assert attrs["mcp.protocol.version"] == ERA[mode]
    assert attrs["jsonrpc.request.id"] == sent.attributes["jsonrpc.request.id"]
    assert attrs["network.transport"] == "pipe"
    assert "error.type" not in attrs
    assert add.status.code != STATUS_CODE_ERROR
    # No arguments are recorded.
    assert not any("argument" in k for k in attrs), attrs
    resources = [r for r, s in receiver.spans if s.name == "tools/call add"]
    assert resources[0]["service.name"] == "mcp-otel-example"

    # tools/call divide: a tool error.
    (sent,) = client_span("MCP send tools/call divide", trace_id)
    (divide,) = receiver.server_spans("tools/call divide")
    assert divide.parent_span_id.hex() == f"{sent.context.span_id:016x}"
    assert attributes(divide.attributes)["error.type"] == "tool_error"
    assert divide.status.code == STATUS_CODE_ERROR

    # tools/call summarize: its request to the client carries the server span's context. In the
    # 2026-07-28 era the client calls twice (the retry brings the answer): two server spans.
    summarize = receiver.server_spans("tools/call summarize")
    sent = client_span("MCP send tools/call summarize", trace_id)
    assert len(summarize) == len(sent) == (2 if mode == "auto" else 1)
    assert {s.parent_span_id.hex() for s in summarize} == {f"{c.context.span_id:016x}" for c in sent}
    assert len(sampled) == 1
    traceparent = sampled[0].get("traceparent")
    assert traceparent is not None, sampled[0]
    version, tid, parent, _flags = traceparent.split("-")
    assert tid == f"{trace_id:032x}"
    if mode == "legacy":
        # A real request to the client: the server reports it as a CLIENT span, a child of the
        # call's span, and passes that span on.
        (asked,) = receiver.server_spans("sampling/createMessage")
        assert asked.kind == SPAN_KIND_CLIENT
        assert asked.parent_span_id == summarize[0].span_id
        assert parent == asked.span_id.hex()
        assert attributes(asked.attributes)["mcp.method.name"] == "sampling/createMessage"
    else:
        # An input request inside the call's `input_required` result: the call's span.
        assert parent in {s.span_id.hex() for s in summarize}

    # The operation histogram, in seconds, per method and tool.
    receiver.wait_for(lambda: "mcp.server.operation.duration" in receiver.metrics, "mcp.server.operation.duration")
    with receiver.lock:
        points = receiver.metrics["mcp.server.operation.duration"]
    assert all(unit == "s" for unit, _ in points)
    tools = {attributes(p.attributes).get("gen_ai.tool.name") for _, p in points}
    assert {"add", "divide", "summarize"} <= tools
    assert list(points[0][1].explicit_bounds) == [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300]
    if mode == "legacy":
        # Notifications have spans too, with no request id.
        (initialized,) = receiver.server_spans("notifications/initialized")
        assert "jsonrpc.request.id" not in attributes(initialized.attributes)
        # A handshake session ends when the client goes: its duration comes with the last export.
        receiver.wait_for(lambda: "mcp.server.session.duration" in receiver.metrics, "mcp.server.session.duration")


@pytest.fixture
def otel_http(receiver):
    """examples/otel serving Streamable HTTP on a free loopback port, exporting to `receiver`."""
    params = server(receiver)
    yield from serve_http(params.command, env=params.env)


def test_over_http_the_session_and_the_headers(otel_http, receiver):
    """Over Streamable HTTP: `mcp.session.id` and `network.*` on each span, the parent from
    `_meta` (the Python client), and from the `traceparent` header when `_meta` has none."""

    async def main():
        async with Client(otel_http, mode="legacy") as client:
            added = await client.call_tool("add", {"a": 2, "b": 3})
            assert added.is_error is False

    with tracer.start_as_current_span("test http") as root:
        run(main())
    trace_id = root.get_span_context().trace_id
    receiver.wait_for(lambda: any(s.name == "tools/call add" for _, s in receiver.spans), "tools/call add")
    (sent,) = client_span("MCP send tools/call add", trace_id)
    (add,) = receiver.server_spans("tools/call add")
    assert add.parent_span_id.hex() == f"{sent.context.span_id:016x}"
    attrs = attributes(add.attributes)
    assert attrs["network.transport"] == "tcp"
    assert attrs["network.protocol.name"] == "http"
    assert len(attrs["mcp.session.id"]) >= 16, attrs

    # A client that writes the trace context only into the HTTP request's headers.
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"},
        },
    }
    request = urllib.request.Request(
        otel_http,
        data=json.dumps(initialize).encode(),
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "traceparent": parent,
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        session_id = response.headers["Mcp-Session-Id"]
        response.read()
    assert session_id

    def raw_initialize():
        return [s for _, s in receiver.spans if s.name == "initialize" and s.trace_id.hex() == parent.split("-")[1]]

    receiver.wait_for(lambda: raw_initialize(), "the span of the initialize with a traceparent header")
    (span,) = raw_initialize()
    assert span.parent_span_id.hex() == "b7ad6b7169203331"
    assert attributes(span.attributes)["mcp.session.id"] == session_id
