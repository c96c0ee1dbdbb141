"""examples/quickstart's task tools (`research`, `reset`: task = "optional") driven by a real
2026-07-28 tasks client, PyPI `fastmcp-tasks` (pinned in requirements.lock): the
`io.modelcontextprotocol/tasks` extension, `tools/call` answered with a task, `tasks/get` polls,
`inputRequests` answered with `tasks/update`, `tasks/cancel`.

Isolation: importing `fastmcp_tasks` registers a client extension on every FastMCP `Client` in
the process, so the other test modules' FastMCP clients would declare the extension and get
tasks back. This module never imports it: each scenario runs in a subprocess,
`fastmcp_tasks_driver.py SCENARIO URL`, which prints what it saw as JSON, and the assertions are
made here. `test_without_the_extension_a_call_is_not_a_task` checks that the pytest process stays
clean."""

import asyncio
import json
import pathlib
import re
import subprocess
import sys

import pytest
from fastmcp import Client as FastMCPClient

DRIVER = pathlib.Path(__file__).with_name("fastmcp_tasks_driver.py")
TERMINAL = {"completed", "failed", "cancelled"}


def drive(scenario: str, url: str) -> dict:
    """Runs one driver scenario against `url` in a fresh interpreter; returns its observations."""
    proc = subprocess.run(
        [sys.executable, str(DRIVER), scenario, url], capture_output=True, text=True, timeout=90
    )
    lines = proc.stdout.strip().splitlines()
    assert lines, f"the driver printed nothing (exit {proc.returncode}):\n{proc.stderr}"
    out = json.loads(lines[-1])
    assert out["ok"], f"the driver failed:\n{out.get('error')}\n{proc.stderr}"
    assert proc.returncode == 0
    assert out["fastmcp_tasks"] == "4.1.2"
    assert out["protocol_version"] == "2026-07-28"
    return out


def assert_task_fields(task: dict, task_id: str, result_type: str):
    assert task["taskId"] == task_id
    assert task["resultType"] == result_type
    assert task["status"] in {"working", "input_required", *TERMINAL}
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$", task["createdAt"])
    assert task["lastUpdatedAt"] >= task["createdAt"]
    assert isinstance(task.get("pollIntervalMs", 0), int)


def test_reset_as_a_task_waits_for_the_confirmation(quickstart_http):
    out = drive("reset", quickstart_http)
    created = out["created"]
    task_id = created["taskId"]
    assert len(task_id) >= 16
    assert_task_fields(created, task_id, "task")
    assert created["status"] in {"working", "input_required"}

    # Polled until it waits for the user: the question is in inputRequests, keyed by the server.
    for task in out["polled"]:
        assert_task_fields(task, task_id, "complete")
    statuses = [t["status"] for t in out["polled"]]
    assert statuses[-1] == "input_required", statuses
    assert set(statuses) <= {"working", "input_required"}, statuses
    requests = out["polled"][-1]["inputRequests"]
    assert len(requests) == 1, requests
    (request,) = requests.values()
    assert request["method"] == "elicitation/create"
    assert request["params"]["message"] == "Reset the shared counter to zero?"
    assert request["params"]["requestedSchema"]["properties"]["confirm"]["type"] == "boolean"

    # The package's driver asked the handler once, sent {confirm: true} with tasks/update and
    # polled to the end; the finished task carries the tool's result inline.
    assert [a["message"] for a in out["asked"]] == ["Reset the shared counter to zero?"]
    assert out["result"] == ["The counter is back at 0."]
    final = out["final"]
    assert_task_fields(final, task_id, "complete")
    assert final["status"] == "completed"
    assert final["result"]["content"] == [{"type": "text", "text": "The counter is back at 0."}]
    assert not final["result"].get("isError")
    assert "inputRequests" not in final
    assert out["peek"] == {"result": 0}

    # `client.call_tool` on the same tool: claimed, polled and answered without the caller seeing
    # a task.
    assert out["transparent_result"] == ["The counter is back at 0."]
    assert out["asked_total"] == 2
    assert out["peek_after_transparent"] == {"result": 0}


def test_research_as_a_task_reports_its_steps_and_asks_for_a_sample(quickstart_http):
    """fastmcp-tasks 4.1.2 answers only elicitation inside a task (its driver raises ToolError on
    `sampling/createMessage`), so the driver answers the sample with the package's own
    `tasks/update` request model on the client's session."""
    out = drive("research", quickstart_http)
    created = out["created"]
    task_id = created["taskId"]
    assert_task_fields(created, task_id, "task")
    assert created["status"] == "working"

    polled = out["polled"]
    for task in polled:
        assert_task_fields(task, task_id, "complete")
    statuses = [t["status"] for t in polled]
    # working (the steps), then input_required (the sample), then completed: never backwards.
    order = {"working": 0, "input_required": 1, "completed": 2}
    assert all(s in order for s in statuses), statuses
    assert [order[s] for s in statuses] == sorted(order[s] for s in statuses), statuses
    assert statuses[-1] == "completed" and "input_required" in statuses, statuses
    messages = [t["statusMessage"] for t in polled if t["status"] == "working" and "statusMessage" in t]
    assert messages, polled
    assert all(re.fullmatch(r"step [1-3] of 3: reading about otters", m) for m in messages), messages
    steps = [int(m.split()[1]) for m in messages]
    assert steps == sorted(steps), messages

    parked = next(t for t in polled if t["status"] == "input_required")
    (request,) = parked["inputRequests"].values()
    assert request["method"] == "sampling/createMessage"
    assert request["params"]["messages"][0]["content"]["text"] == "Write one line about otters."
    assert request["params"]["maxTokens"] == 200

    done = polled[-1]
    assert done["result"]["content"] == [{"type": "text", "text": "Research on otters: otters hold hands"}]
    assert "inputRequests" not in done
    assert out["result"] == ["Research on otters: otters hold hands"]

    # The transparent `call_tool` path cannot answer a sample: a clear ToolError, no hang.
    assert "sampling/createMessage" in out["transparent_error"], out["transparent_error"]


def test_a_long_research_task_is_cancelled(quickstart_http):
    out = drive("cancel", quickstart_http)
    task_id = out["created"]["taskId"]
    assert out["before"]["status"] == "working"
    after = out["after"]
    assert_task_fields(after, task_id, "complete")
    assert after["status"] == "cancelled"
    assert "result" not in after and "error" not in after
    # Cancelling it again is acknowledged; a second later it is still cancelled, and its
    # statusMessage has not moved on (had the steps gone on, it would be at step 5).
    later = out["later"]
    assert later["status"] == "cancelled"
    assert later.get("statusMessage") == after.get("statusMessage")
    assert out["result_error"] == f"Task {task_id} was cancelled"
    # tasks/get on an id the server never issued: -32602.
    assert out["unknown"]["code"] == -32602


def test_without_the_extension_a_call_is_not_a_task(quickstart_http):
    """A FastMCP client in this process, which never imported fastmcp_tasks, does not declare
    the tasks extension, so the server runs `research` as a plain call (the sample goes through
    the stateless era's input_required retry) and the client gets the tool's result."""
    from fastmcp.client import extension_hooks

    assert "fastmcp_tasks" not in sys.modules
    assert extension_hooks.build_internal_client_extensions(None) == []

    async def sampling(messages, params, context):
        return "plain"

    async def main():
        async with FastMCPClient(quickstart_http, sampling_handler=sampling) as client:
            assert client.protocol_version == "2026-07-28"
            result = await client.call_tool("research", {"topic": "seals", "steps": 1})
            assert result.content[0].text == "Research on seals: plain"

    asyncio.run(asyncio.wait_for(main(), timeout=60))
