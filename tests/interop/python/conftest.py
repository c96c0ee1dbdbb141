"""Shared set-up for the interop tests: where the example servers are."""

import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


def example(name: str) -> str:
    """Path of a built example binary (scripts/test builds them first)."""
    base = pathlib.Path(os.environ.get("MCP_EXAMPLES_DIR", ROOT / "target" / "debug" / "examples"))
    path = base / name
    if not path.exists():
        pytest.fail(f"{path} is missing: build the examples first (scripts/test does)")
    return str(path)


import socket
import subprocess
import time


@pytest.fixture
def quickstart_http():
    """examples/quickstart serving Streamable HTTP on a free loopback port; yields its URL."""
    yield from serve_quickstart_http()


@pytest.fixture
def quickstart_http_without_sessions():
    """The same, serving handshake-era clients without sessions (`--no-sessions`)."""
    yield from serve_quickstart_http("--no-sessions")


def serve_quickstart_http(*flags):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [example("quickstart"), "--http", f"127.0.0.1:{port}", *flags], stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.kill()
        proc.wait()
