"""Runs a Lambda bootstrap as Lambda does, against a Lambda Runtime API served here, and
measures it: init (process start to its first `next` request), each invocation (the event
handed over to the response posted), and peak memory (VmHWM of the process).

usage: lambda_runtime.py [--row NAME|--row-untimed NAME] BOOTSTRAP EVENT_FILE INVOCATIONS [NAME=VALUE ...]
Prints one JSON object: init_ms, first_ms (the first invocation: caches cold), warm_ms
(median of the rest), warm_p99_ms, max_rss_kib, errors; with --row, a markdown table row
for RESULTS.md instead (--row-untimed: init and memory only).

The Runtime API is the documented one (2018-06-01): GET /runtime/invocation/next, POST
/runtime/invocation/{id}/response | /error, POST /runtime/init/error. The environment is the
one Lambda sets for a function, plus NAME=VALUE pairs.
"""
import http.server
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

args = sys.argv[1:]
row = None
if args and args[0] in ("--row", "--row-untimed"):
    row = (args[1], args[0] == "--row")
    args = args[2:]
bootstrap, event_file, count = args[0], args[1], int(args[2])
extra = dict(pair.split("=", 1) for pair in args[3:])
event = open(event_file, "rb").read()

state = {"first_next": None, "sent": {}, "done": {}, "errors": 0, "next_id": 0}
lock = threading.Condition()


class Api(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        # Headers and body go out as separate writes: without this, Nagle's algorithm and
        # the client's delayed ACK add 40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        if not self.path.endswith("/runtime/invocation/next"):
            self.send_error(404)
            return
        with lock:
            if state["first_next"] is None:
                state["first_next"] = time.perf_counter()
            lock.notify_all()
            while state["next_id"] >= count:
                lock.wait()  # no more work: hold the request, as Lambda freezes the sandbox
            request_id = f"req-{state['next_id']}"
            state["next_id"] += 1
            state["sent"][request_id] = time.perf_counter()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(event)))
        self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                         "arn:aws:lambda:us-east-1:111122223333:function:bench")
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
        self.end_headers()
        self.wfile.write(event)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        now = time.perf_counter()
        parts = self.path.split("/")
        with lock:
            if self.path.endswith("/error"):
                state["errors"] += 1
            if "invocation" in parts:
                request_id = parts[parts.index("invocation") + 1]
                state["done"][request_id] = now
            lock.notify_all()
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # the process was stopped while its last `next` was held: expected


server = Server(("127.0.0.1", 0), Api)
threading.Thread(target=server.serve_forever, daemon=True).start()
port = server.server_address[1]

env = {
    "PATH": os.environ.get("PATH", ""),
    "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
    "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_EC2_METADATA_DISABLED": "true",
    "RUST_LOG": "warn",
}
env.update(extra)
started = time.perf_counter()
process = subprocess.Popen([bootstrap], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
deadline = time.time() + 120
peak = 0
with lock:
    while len(state["done"]) < count and time.time() < deadline and process.poll() is None:
        lock.wait(0.05)
        try:
            with open(f"/proc/{process.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
stderr = b""
if process.poll() is None:
    process.kill()
else:
    stderr = process.stderr.read()
process.wait()
if len(state["done"]) < count or state["first_next"] is None:
    sys.exit(f"{bootstrap}: {len(state['done'])} of {count} invocations answered; {stderr.decode(errors='replace')[-2000:]}")
times = [(state["done"][r] - state["sent"][r]) * 1000 for r in sorted(state["sent"], key=lambda r: int(r[4:]))]
warm = times[1:] or times
result = {
    "init_ms": round((state["first_next"] - started) * 1000, 1),
    "first_ms": round(times[0], 2),
    "warm_ms": round(statistics.median(warm), 3),
    "warm_p99_ms": round(sorted(warm)[int(len(warm) * 0.99) - 1 if len(warm) > 1 else 0], 3),
    "max_rss_kib": peak,
    "errors": state["errors"],
}
if row is None:
    print(json.dumps(result))
else:
    name, timed = row
    cells = [result[k] if timed else "–" for k in ("first_ms", "warm_ms", "warm_p99_ms")]
    print(f"| `{name}` | {result['init_ms']} | " + " | ".join(map(str, cells)) + f" | {peak} |")
