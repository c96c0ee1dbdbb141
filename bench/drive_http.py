"""Drives a Streamable HTTP MCP server with N stateless-era calls (2026-07-28) from one keep-alive
client, retrying each `input_required` round with the answers: the load BENCHMARKS.md counts
instructions under, with the server run by valgrind's callgrind. With `--zero-after W`, W calls
are made first, then `callgrind_control -z PID` and, after the N calls, `callgrind_control -d
PID` (the pid of the server under callgrind), so the count leaves out start-up.

usage: drive_http.py TOOL PORT N [--zero-after W --pid PID]   TOOL: echo | ask
"""
import http.client, json, subprocess, sys
tool, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
args = sys.argv[4:]
warm = int(args[args.index("--zero-after") + 1]) if "--zero-after" in args else 0
pid = args[args.index("--pid") + 1] if "--pid" in args else None
c = http.client.HTTPConnection("127.0.0.1", port)
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
           "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": tool}
META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"sampling": {}},
        "io.modelcontextprotocol/clientInfo": {"name": "drive", "version": "0"}}
SAMPLE = {"role": "assistant", "content": {"type": "text", "text": "A fox jumps a dog."}, "model": "bench"}
def post(message):
    c.request("POST", "/mcp", json.dumps(message), HEADERS)
    body = c.getresponse().read()
    if body.startswith(b"event:") or body.startswith(b"data:") or b"\ndata:" in body:
        body = [line[5:] for line in body.split(b"\n") if line.startswith(b"data:")][-1]
    return json.loads(body)
def call(i):
    params = {"name": tool, "arguments": {"text": "The quick brown fox"}, "_meta": META}
    m = post({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": params})
    while m.get("result", {}).get("resultType") == "input_required":
        r = m["result"]
        retry = dict(params, requestState=r["requestState"], inputResponses={k: SAMPLE for k in r["inputRequests"]})
        m = post({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": retry})
    assert "error" not in m and not m["result"].get("isError"), m
for i in range(warm):
    call(i)
if pid:
    subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
for i in range(n):
    call(warm + i)
if pid:
    subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
print("done", n)
