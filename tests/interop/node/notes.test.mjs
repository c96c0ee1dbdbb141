// The official TypeScript SDK client against examples/notes over stdio (handshake era):
// resources, a template URI, a prompt, and a subscription that hears about a change.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const examples = process.env.MCP_EXAMPLES_DIR ?? path.join(root, "target/debug/examples");

async function connect() {
  const transport = new StdioClientTransport({ command: path.join(examples, "notes"), args: [] });
  const client = new Client({ name: "interop-test", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

test("reads a resource, a template URI and gets a prompt", async () => {
  const client = await connect();
  try {
    const { resources } = await client.listResources();
    assert.deepEqual(resources.map((r) => r.uri), ["notes://index"]);
    const { resourceTemplates } = await client.listResourceTemplates();
    assert.deepEqual(resourceTemplates.map((t) => t.uriTemplate), ["notes://{id}"]);
    const note = await client.readResource({ uri: "notes://1" });
    assert.match(note.contents[0].text, /Groceries/);
    const prompt = await client.getPrompt({ name: "review", arguments: { id: "2" } });
    assert.equal(prompt.messages[1].content.text, "Review the note above. Be concise.");
  } finally {
    await client.close();
  }
});

test("a subscriber hears that a note changed", async () => {
  const client = await connect();
  try {
    const updated = new Promise((resolve) => {
      client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => resolve(n.params.uri));
    });
    await client.subscribeResource({ uri: "notes://2" });
    await client.callTool({ name: "write_note", arguments: { id: 2, text: "# Ideas\n\nchanged" } });
    assert.equal(await updated, "notes://2");
    const note = await client.readResource({ uri: "notes://2" });
    assert.equal(note.contents[0].text, "# Ideas\n\nchanged");
  } finally {
    await client.close();
  }
});
