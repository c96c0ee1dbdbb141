"""Drives a stdio MCP server with N calls, W in flight, answering sampling requests and
`input_required` rounds: the load `scripts/count` counts instructions under (callgrind counts the
same twice, where this machine's wall clock does not).

usage: drive.py MODE N W -- CMD...   MODE: echo-handshake | echo-stateless | ask-handshake | ask-stateless
"""
import json, subprocess, sys
mode, n, w = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cmd = sys.argv[sys.argv.index("--") + 1:]
p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"sampling": {}},
        "io.modelcontextprotocol/clientInfo": {"name": "drive", "version": "0"}}
SAMPLE = {"role": "assistant", "content": {"type": "text", "text": "A fox jumps a dog."}, "model": "bench"}
out = p.stdin; inp = p.stdout
def send(m): out.write((json.dumps(m) + "\n").encode())
def recv(): return json.loads(inp.readline())
stateless = mode.endswith("stateless")
tool = mode.split("-")[0]
if not stateless:
    send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {"sampling": {}}, "clientInfo": {"name": "d", "version": "0"}}})
    recv(); send({"jsonrpc": "2.0", "method": "notifications/initialized"})
def call(i, extra=None):
    params = {"name": tool, "arguments": {"text": "The quick brown fox jumps over the lazy dog"}}
    if stateless: params["_meta"] = META
    if extra: params.update(extra)
    send({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": params})
done = 0; nxt = 1; inflight = 0
while done < n:
    while inflight < w and nxt <= n:
        call(nxt); nxt += 1; inflight += 1
    m = recv()
    if "method" in m:  # a sampling request (handshake era)
        send({"jsonrpc": "2.0", "id": m["id"], "result": SAMPLE}); continue
    r = m.get("result", {})
    if r.get("resultType") == "input_required":
        answers = {k: SAMPLE for k in r["inputRequests"]}
        call(m["id"], {"requestState": r["requestState"], "inputResponses": answers}); continue
    assert "error" not in m and not r.get("isError"), m
    done += 1; inflight -= 1
p.stdin.close(); p.wait()
print("done", done)
