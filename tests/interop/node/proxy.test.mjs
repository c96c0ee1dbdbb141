// The official TypeScript SDK client (handshake era, 2025-11-25) through examples/proxy over
// Streamable HTTP to a FastMCP 4 server on stdio (tests/interop/python/upstream_server.py), which
// the proxy speaks 2026-07-28 to: the upstream's `input_required` sampling round reaches the
// client as a real `sampling/createMessage` request on the call's stream, and the client's
// answer goes back to the upstream on the proxy's retry.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateMessageRequestSchema } from "@modelcontextprotocol/sdk/types.js";

import { examples, freePort, upstreamPython, upstreamServer, waitFor } from "./support.mjs";

test("sampling through the proxy: a 2025-11-25 client in front of a 2026-07-28 FastMCP 4 upstream", async () => {
  const port = await freePort();
  // The upstream writes here the protocol version of each call it serves.
  const eras = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mcp-proxy-")), "eras");
  const proxy = spawn(
    path.join(examples, "proxy"),
    ["--http", `127.0.0.1:${port}`, "--", upstreamPython, upstreamServer],
    { stdio: "ignore", env: { ...process.env, MCP_UPSTREAM_ERA_LOG: eras } },
  );
  try {
    // The proxy listens once the upstream has started and told it what it serves.
    await waitFor(port, 1200);
    const asked = [];
    const client = new Client({ name: "interop-proxy", version: "1.0.0" }, { capabilities: { sampling: {} } });
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
      asked.push(request.params.messages[0].content.text);
      return { role: "assistant", content: { type: "text", text: "TS model's line" }, model: "ts-model" };
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
    try {
      assert.equal(client.getServerVersion().name, "proxy-upstream");
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name), ["add", "slow", "summarize", "confirm"]);
      const added = await client.callTool({ name: "add", arguments: { a: 20, b: 22 } });
      assert.deepEqual(added.structuredContent, { result: 42 });
      const summary = await client.callTool({ name: "summarize", arguments: { text: "Proxies relay." } });
      assert.ok(!summary.isError, JSON.stringify(summary));
      assert.equal(summary.content[0].text, "Summary: TS model's line");
      assert.deepEqual(asked, ["Summarize in one line:\nProxies relay."]);
      // Two calls upstream: the first answered `input_required`, the retry carried the answer.
      assert.deepEqual(fs.readFileSync(eras, "utf8").trim().split("\n"), ["summarize 2026-07-28", "summarize 2026-07-28"]);
    } finally {
      await client.close();
    }
  } finally {
    proxy.kill();
  }
});
