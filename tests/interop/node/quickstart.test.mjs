// The official TypeScript SDK client (npm @modelcontextprotocol/sdk, pinned in
// package-lock.json) against examples/quickstart over stdio. The SDK speaks the handshake era.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const examples = process.env.MCP_EXAMPLES_DIR ?? path.join(root, "target/debug/examples");

async function connect() {
  const transport = new StdioClientTransport({ command: path.join(examples, "quickstart"), args: [] });
  const client = new Client({ name: "interop-test", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

test("lists tools and calls add(2, 3) with structured content", async () => {
  const client = await connect();
  try {
    assert.equal(client.getServerVersion().name, "quickstart");
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name), ["add", "divide", "stats", "greet", "summarize", "research", "increment", "peek", "reset"]);
    const result = await client.callTool({ name: "add", arguments: { a: 2, b: 3 } });
    assert.deepEqual(result.structuredContent, { result: 5 });
    assert.equal(result.content[0].text, "5");
    assert.ok(!result.isError);
  } finally {
    await client.close();
  }
});

test("a tool error is a result with isError, and the server keeps serving", async () => {
  const client = await connect();
  try {
    const failed = await client.callTool({ name: "divide", arguments: { dividend: 1, divisor: 0 } });
    assert.equal(failed.isError, true);
    assert.equal(failed.content[0].text, "cannot divide by zero");
    const stats = await client.callTool({ name: "stats", arguments: { numbers: [2, 4] } });
    assert.deepEqual(stats.structuredContent, { count: 2, sum: 6, mean: 3 });
  } finally {
    await client.close();
  }
});

test("summarize asks the client's model through sampling/createMessage", async () => {
  const { CreateMessageRequestSchema } = await import("@modelcontextprotocol/sdk/types.js");
  const transport = new StdioClientTransport({ command: path.join(examples, "quickstart"), args: [] });
  const client = new Client({ name: "interop-test", version: "1.0.0" }, { capabilities: { sampling: {} } });
  const seen = [];
  client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
    seen.push(request.params);
    return { role: "assistant", content: { type: "text", text: "TS model says hi" }, model: "ts-test-model" };
  });
  await client.connect(transport);
  try {
    const result = await client.callTool({ name: "summarize", arguments: { text: "Node is here." } });
    assert.equal(result.content[0].text, "TS model says hi");
    assert.equal(seen.length, 1);
    assert.equal(seen[0].maxTokens, 200);
    assert.match(seen[0].messages[0].content.text, /Node is here\./);
  } finally {
    await client.close();
  }
});
