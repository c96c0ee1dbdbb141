"""Drives examples/quickstart's tasks with the PyPI `fastmcp-tasks` client (the
`io.modelcontextprotocol/tasks` extension, 2026-07-28) and prints what it saw as one JSON object.

Not a test module: test_tasks.py runs it in a subprocess, `python fastmcp_tasks_driver.py
SCENARIO URL`, because importing `fastmcp_tasks` registers a client extension on *every* FastMCP
`Client` in the process (`fastmcp.client.extension_hooks`); inside pytest's process it would make
the other test modules' FastMCP clients declare the tasks extension and get tasks back.

A scenario prints {"ok": true, ...observations} on success; the test makes the assertions. An
exception prints {"ok": false, "error": ...} and exits 1."""

import asyncio
import json
import sys
import traceback

import fastmcp_tasks
import mcp_types
from fastmcp import Client
from fastmcp.exceptions import ToolError
from fastmcp_tasks import call_tool_task
from fastmcp_tasks.client_models import (
    ClientGetTaskResult,
    GetTaskRequest,
    GetTaskRequestParams,
    UpdateTaskRequest,
    UpdateTaskRequestParams,
)
from mcp.shared.exceptions import MCPError


def task_view(task) -> dict:
    """A `ClientCreateTaskResult` or `ClientGetTaskResult` as plain JSON."""
    return task.model_dump(mode="json", by_alias=True, exclude_none=True)


async def poll_until(task, wanted: set, seen: list, timeout: float = 20.0):
    """Polls `tasks/get` through the handle every 100 ms, recording each answer, until the task's
    status is in `wanted`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        current = await task.status()
        seen.append(task_view(current))
        if current.status in wanted:
            return current
        await asyncio.sleep(0.1)
    raise TimeoutError(f"task {task.task_id} never reached {wanted}: {seen[-1:]}")


async def reset(url: str) -> dict:
    """`reset` as a task: the confirmation waits in `input_required` until the client's
    elicitation handler answers it, which the package's driver sends with `tasks/update`."""
    asked = []

    async def elicitation(message, response_type, params, context):
        asked.append({"message": message, "requested_schema": params.requested_schema})
        return {"confirm": True}

    async with Client(url, elicitation_handler=elicitation) as client:
        out = {"protocol_version": client.protocol_version}
        await client.call_tool("increment", {"by": 3})
        task = await call_tool_task(client, "reset", {})
        out["created"] = task_view(task.create_result)
        out["polled"] = []
        await poll_until(task, {"input_required", "completed", "failed", "cancelled"}, out["polled"])
        result = await task.result()  # answers through `elicitation`, then polls to the end
        out["result"] = [c.text for c in result.content]
        out["final"] = task_view(await task.status())
        out["asked"] = list(asked)
        out["peek"] = (await client.call_tool("peek", {})).structured_content
        # The transparent path: `call_tool` is claimed by the extension, polled and answered.
        await client.call_tool("increment", {"by": 2})
        again = await client.call_tool("reset", {})
        out["transparent_result"] = [c.text for c in again.content]
        out["asked_total"] = len(asked)
        out["peek_after_transparent"] = (await client.call_tool("peek", {})).structured_content
    return out


async def research(url: str) -> dict:
    """`research` as a task: progress steps show as `statusMessage`, then the task waits for a
    sampling request. The package's driver answers only elicitation (it raises ToolError on
    `sampling/createMessage`), so the answer goes back with the package's own `tasks/update`
    request model, sent on the client's session."""

    async def sampling(messages, params, context):
        raise AssertionError("a 2026-07-28 task's sampling request must come in inputRequests, not as a request")

    async def elicitation(message, response_type, params, context):
        raise AssertionError("research asks no question")

    async with Client(url, sampling_handler=sampling, elicitation_handler=elicitation) as client:
        out = {"protocol_version": client.protocol_version}
        task = await call_tool_task(client, "research", {"topic": "otters", "steps": 3})
        out["created"] = task_view(task.create_result)
        out["polled"] = []
        parked = await poll_until(task, {"input_required", "completed", "failed", "cancelled"}, out["polled"])
        requests = parked.input_requests or {}
        answers = {
            key: mcp_types.CreateMessageResult(
                role="assistant", content=mcp_types.TextContent(type="text", text="otters hold hands"), model="py-model"
            ).model_dump(mode="json", by_alias=True, exclude_none=True)
            for key, request in requests.items()
            if request.get("method") == "sampling/createMessage"
        }
        update = UpdateTaskRequest(params=UpdateTaskRequestParams(task_id=task.task_id, input_responses=answers))
        out["update_ack"] = (await client.session.send_request(update, mcp_types.Result)).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        await poll_until(task, {"completed", "failed", "cancelled"}, out["polled"])
        result = await task.result()
        out["result"] = [c.text for c in result.content]

        # The transparent path meets the same sampling request and gives up, as documented.
        try:
            await client.call_tool("research", {"topic": "seals", "steps": 1}, timeout=20)
            out["transparent_error"] = None
        except ToolError as e:
            out["transparent_error"] = str(e)
    return out


async def cancel(url: str) -> dict:
    """A long `research` task cancelled with `tasks/cancel` through the handle."""
    async with Client(url) as client:
        out = {"protocol_version": client.protocol_version}
        task = await call_tool_task(client, "research", {"topic": "cats", "steps": 40})
        out["created"] = task_view(task.create_result)
        out["before"] = task_view(await task.status())
        await task.cancel()
        out["after"] = task_view(await task.wait(timeout=10))
        await task.cancel()  # a terminal task: acked, no error
        await asyncio.sleep(1.0)
        out["later"] = task_view(await task.status())
        try:
            await task.result()
            out["result_error"] = None
        except ToolError as e:
            out["result_error"] = str(e)
        # An id the server never issued.
        try:
            unknown = GetTaskRequest(params=GetTaskRequestParams(task_id="no-such-task"))
            await client.session.send_request(unknown, ClientGetTaskResult)
            out["unknown"] = None
        except MCPError as e:
            out["unknown"] = {"code": e.error.code, "message": e.error.message}
    return out


SCENARIOS = {"reset": reset, "research": research, "cancel": cancel}


def main():
    scenario, url = sys.argv[1], sys.argv[2]
    try:
        out = asyncio.run(asyncio.wait_for(SCENARIOS[scenario](url), timeout=50))
    except BaseException:
        print(json.dumps({"ok": False, "error": traceback.format_exc()}))
        sys.exit(1)
    out["fastmcp_tasks"] = fastmcp_tasks.__version__
    print(json.dumps({"ok": True, **out}))


if __name__ == "__main__":
    main()
