// The official TypeScript SDK client against examples/quickstart over Streamable HTTP
// (handshake era, with a session): tools, and a sampling round trip on the call's SSE stream.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { spawn } from "node:child_process";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateMessageRequestSchema } from "@modelcontextprotocol/sdk/types.js";

import { examples, freePort, waitFor } from "./support.mjs";

test("tools and sampling over Streamable HTTP", async () => {
  const port = await freePort();
  const server = spawn(path.join(examples, "quickstart"), ["--http", `127.0.0.1:${port}`], { stdio: "ignore" });
  try {
    await waitFor(port);
    const client = new Client({ name: "interop-http", version: "1.0.0" }, { capabilities: { sampling: {} } });
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({
      role: "assistant", content: { type: "text", text: "TS over HTTP" }, model: "ts-model",
    }));
    await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
    const added = await client.callTool({ name: "add", arguments: { a: 20, b: 22 } });
    assert.deepEqual(added.structuredContent, { result: 42 });
    const summary = await client.callTool({ name: "summarize", arguments: { text: "x" } });
    assert.equal(summary.content[0].text, "TS over HTTP");
    await client.close();
  } finally {
    server.kill();
  }
});

test("a server without sessions serves each POST on its own", async () => {
  const port = await freePort();
  const server = spawn(path.join(examples, "quickstart"), ["--http", `127.0.0.1:${port}`, "--no-sessions"], { stdio: "ignore" });
  try {
    await waitFor(port);
    const client = new Client({ name: "interop-http", version: "1.0.0" }, { capabilities: { sampling: {} } });
    const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`));
    await client.connect(transport);
    assert.equal(transport.sessionId, undefined);
    const added = await client.callTool({ name: "add", arguments: { a: 20, b: 22 } });
    assert.deepEqual(added.structuredContent, { result: 42 });
    const summary = await client.callTool({ name: "summarize", arguments: { text: "x" } });
    assert.equal(summary.isError, true);
    assert.match(summary.content[0].text, /without sessions/);
    await client.close();
  } finally {
    server.kill();
  }
});
