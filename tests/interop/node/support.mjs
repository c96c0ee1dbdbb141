// What the HTTP interop tests share: where the example servers are, a free port, and waiting
// for a server to listen (every 50 ms, `tries` times).
import path from "node:path";
import net from "node:net";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const examples = process.env.MCP_EXAMPLES_DIR ?? path.join(root, "target/debug/examples");
// The FastMCP 4 venv's interpreter and the FastMCP server the proxy tests put behind the proxy.
export const upstreamPython = process.env.MCP_UPSTREAM_PY4 ?? path.join(root, ".deps/venv/bin/python");
export const upstreamServer = path.join(root, "tests/interop/python/upstream_server.py");

export async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function waitFor(port, tries = 100) {
  for (let i = 0; i < tries; i++) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, "127.0.0.1", () => { c.end(); resolve(true); });
      c.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("the server did not start");
}
