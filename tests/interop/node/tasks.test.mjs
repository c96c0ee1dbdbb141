// The official TypeScript SDK client (npm @modelcontextprotocol/sdk, pinned in package-lock.json)
// running examples/quickstart's tools as 2025-11-25 tasks over Streamable HTTP, through the SDK's
// own task API (`client.experimental.tasks`): `tools/call` with `params.task`, `tasks/get` polls,
// `tasks/result`, `tasks/list` and `tasks/cancel`, with sampling and elicitation inside a task.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { spawn } from "node:child_process";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CallToolResultSchema,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  RELATED_TASK_META_KEY,
} from "@modelcontextprotocol/sdk/types.js";

import { examples, freePort, waitFor } from "./support.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let server;
let url;

before(async () => {
  const port = await freePort();
  server = spawn(path.join(examples, "quickstart"), ["--http", `127.0.0.1:${port}`], { stdio: "ignore" });
  await waitFor(port);
  url = new URL(`http://127.0.0.1:${port}/mcp`);
});

after(() => server?.kill());

/** A client with a session; `capabilities` and request handlers as the test needs them. */
async function connect(capabilities, handlers = []) {
  const client = new Client({ name: "interop-tasks", version: "1.0.0" }, { capabilities });
  for (const [schema, handler] of handlers) client.setRequestHandler(schema, handler);
  await client.connect(new StreamableHTTPClientTransport(url));
  return client;
}

/** Drains `callToolStream` into the messages it yielded. */
async function drain(stream) {
  const messages = [];
  for await (const message of stream) messages.push(message);
  return messages;
}

test("research runs as a task: created, working with progress, input_required while the client's model answers, then the result", async () => {
  const asked = [];
  const client = await connect({ sampling: {} }, [
    [CreateMessageRequestSchema, async (request) => {
      asked.push(request.params);
      // Slow enough (three poll intervals) that a tasks/get sees the task wait for this answer.
      await sleep(1500);
      return { model: "ts-model", role: "assistant", content: { type: "text", text: "otters hold hands" } };
    }],
  ]);
  try {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.find((t) => t.name === "research").execution, { taskSupport: "optional" });
    assert.deepEqual(client.getServerCapabilities().tasks?.requests, { tools: { call: {} } });

    const messages = await drain(client.experimental.tasks.callToolStream(
      { name: "research", arguments: { topic: "otters", steps: 3 } },
      CallToolResultSchema,
      { task: { ttl: 60000 }, timeout: 60000 },
    ));
    const types = messages.map((m) => m.type);
    assert.equal(types[0], "taskCreated", JSON.stringify(messages));
    assert.equal(types.at(-1), "result", JSON.stringify(messages));
    assert.ok(!types.includes("error"), JSON.stringify(messages));

    const created = messages[0].task;
    assert.match(created.taskId, /^\S{16,}$/);
    assert.equal(created.status, "working");
    assert.equal(created.ttl, 60000);
    assert.ok(!Number.isNaN(Date.parse(created.createdAt)) && !Number.isNaN(Date.parse(created.lastUpdatedAt)));

    const statuses = messages.filter((m) => m.type === "taskStatus").map((m) => m.task);
    assert.ok(statuses.length >= 1, JSON.stringify(messages));
    for (const task of statuses) assert.equal(task.taskId, created.taskId);
    const working = statuses.filter((t) => t.status === "working");
    assert.ok(working.length >= 1, JSON.stringify(statuses));
    for (const task of working) assert.match(task.statusMessage, /^step [1-3] of 3: reading about otters$/);
    assert.ok(statuses.some((t) => t.status === "input_required"), JSON.stringify(statuses));

    // Asked once, tied to the task, with the tool's prompt.
    assert.equal(asked.length, 1);
    assert.deepEqual(asked[0]._meta?.[RELATED_TASK_META_KEY], { taskId: created.taskId });
    assert.equal(asked[0].messages[0].content.text, "Write one line about otters.");
    assert.equal(asked[0].maxTokens, 200);

    const { result } = messages.at(-1);
    assert.ok(!result.isError, JSON.stringify(result));
    assert.equal(result.content[0].text, "Research on otters: otters hold hands");
    assert.deepEqual(result._meta?.[RELATED_TASK_META_KEY], { taskId: created.taskId });

    const done = await client.experimental.tasks.getTask(created.taskId);
    assert.equal(done.status, "completed");
    // tasks/result on a finished task returns the stored result again.
    const again = await client.experimental.tasks.getTaskResult(created.taskId, CallToolResultSchema);
    assert.equal(again.content[0].text, "Research on otters: otters hold hands");
  } finally {
    await client.close();
  }
});

test("a long research task is cancelled, stays cancelled, and tasks/list lists it", async () => {
  const asked = [];
  const client = await connect({ sampling: {} }, [
    [CreateMessageRequestSchema, async (request) => {
      asked.push(request.params);
      return { model: "ts-model", role: "assistant", content: { type: "text", text: "never" } };
    }],
  ]);
  try {
    const stream = client.experimental.tasks.callToolStream(
      { name: "research", arguments: { topic: "cats", steps: 40 } },
      CallToolResultSchema,
      { task: { ttl: 60000 }, timeout: 60000 },
    );
    const first = await stream.next();
    assert.equal(first.value.type, "taskCreated", JSON.stringify(first.value));
    const { taskId } = first.value.task;
    await stream.return(); // stop polling: this test drives the task by hand

    const working = await client.experimental.tasks.getTask(taskId);
    assert.equal(working.status, "working");

    const cancelled = await client.experimental.tasks.cancelTask(taskId);
    assert.equal(cancelled.taskId, taskId);
    assert.equal(cancelled.status, "cancelled");

    const got = await client.experimental.tasks.getTask(taskId);
    assert.equal(got.status, "cancelled");

    const { tasks } = await client.experimental.tasks.listTasks();
    const listed = tasks.find((t) => t.taskId === taskId);
    assert.ok(listed, `tasks/list lists ${taskId}: ${JSON.stringify(tasks)}`);
    assert.equal(listed.status, "cancelled");

    // A terminal task cannot be cancelled again: -32602.
    await assert.rejects(client.experimental.tasks.cancelTask(taskId), (e) => e.code === -32602);

    // A second later (four more steps, had it gone on) it is still cancelled, and its model was
    // never asked.
    await sleep(1000);
    assert.equal((await client.experimental.tasks.getTask(taskId)).status, "cancelled");
    assert.equal(asked.length, 0);
  } finally {
    await client.close();
  }
});

test("reset runs as a task: the elicitation is answered inside it, and the counter goes back to 0", async () => {
  const asked = [];
  const client = await connect({ elicitation: { form: {} } }, [
    [ElicitRequestSchema, async (request) => {
      asked.push(request.params);
      await sleep(1500);
      return { action: "accept", content: { confirm: true } };
    }],
  ]);
  try {
    await client.callTool({ name: "increment", arguments: { by: 5 } });
    // No explicit `task`: the SDK sends one because tools/list says taskSupport is "optional"
    // and the server declared tasks.requests.tools.call.
    const { tools } = await client.listTools();
    assert.deepEqual(tools.find((t) => t.name === "reset").execution, { taskSupport: "optional" });
    const messages = await drain(client.experimental.tasks.callToolStream(
      { name: "reset", arguments: {} }, CallToolResultSchema, { timeout: 60000 },
    ));
    assert.deepEqual(
      [messages[0].type, messages.at(-1).type], ["taskCreated", "result"], JSON.stringify(messages),
    );
    const { taskId } = messages[0].task;
    assert.ok(
      messages.some((m) => m.type === "taskStatus" && m.task.status === "input_required"),
      JSON.stringify(messages),
    );
    assert.equal(asked.length, 1);
    assert.equal(asked[0].message, "Reset the shared counter to zero?");
    assert.equal(asked[0].requestedSchema.properties.confirm.type, "boolean");
    assert.deepEqual(asked[0]._meta?.[RELATED_TASK_META_KEY], { taskId });
    assert.equal(messages.at(-1).result.content[0].text, "The counter is back at 0.");
    const peek = await client.callTool({ name: "peek", arguments: {} });
    assert.deepEqual(peek.structuredContent, { result: 0 });
  } finally {
    await client.close();
  }
});
