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
    yield from serve_http(example("quickstart"), *flags)


def serve_http(command, *flags, env=None):
    """`command --http 127.0.0.1:PORT *flags` on a free loopback port: yields its endpoint's URL
    once it listens, and kills it afterwards."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([command, "--http", f"127.0.0.1:{port}", *flags], env=env, stderr=subprocess.DEVNULL)
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


# The proxy tests (test_proxy.py) run examples/proxy in front of upstream_server.py, a FastMCP
# server, under two FastMCP versions: 4.x from requirements.lock (.deps/venv) and 3.x from
# upstream-fastmcp3.lock (.deps/venv-fastmcp3). scripts/test installs both and names their
# interpreters in MCP_UPSTREAM_PY4 and MCP_UPSTREAM_PY3.
UPSTREAM_SERVER = pathlib.Path(__file__).resolve().with_name("upstream_server.py")
UPSTREAM_PYTHONS = {
    4: ("MCP_UPSTREAM_PY4", ROOT / ".deps" / "venv" / "bin" / "python"),
    3: ("MCP_UPSTREAM_PY3", ROOT / ".deps" / "venv-fastmcp3" / "bin" / "python"),
}


def upstream_python(fastmcp_major: int) -> str:
    """The interpreter of the venv that has FastMCP `fastmcp_major`.x, for upstream_server.py."""
    variable, default = UPSTREAM_PYTHONS[fastmcp_major]
    path = pathlib.Path(os.environ.get(variable, default))
    if not path.exists():
        pytest.fail(f"{path} is missing: scripts/test installs it (or set {variable})")
    return str(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, seconds: float = 60) -> None:
    """Waits until `port` accepts connections, failing early if `proc` exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the server exited with {proc.returncode} before listening on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"nothing listened on {port} within {seconds}s")
