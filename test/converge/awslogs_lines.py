"""Lines arriving: the module's unit's container, with Docker's awslogs driver, sending
its access log to CloudWatch Logs emulated by moto, read back with the Logs API.

The unit's `docker run` (test/lib/cloudconfig.py renders it from the module with the
defaults: awslogs, mode=non-blocking, max-buffer-size) is run with these changes, all
printed: a unique name, --detach, a free 127.0.0.1 port, the two systemd variables an
instance fills in from coreos-metadata (region, instance ID) given fixed values, and two
options an instance does not need: awslogs-endpoint (the emulator) and
awslogs-credentials-endpoint.

Why the second: the driver runs inside dockerd and signs its calls with dockerd's own
credentials (its environment, its shared files, or the EC2 or ECS role). On EC2 the
instance profile supplies them; here, without them, it fails before sending anything
(dockerd.log: "NoCredentialProviders: no valid providers in chain"). Rather than give the
machine's shared dockerd credentials, this serves placeholder keys the way ECS does: at
http://169.254.170.2<path>, the only host the driver asks for awslogs-credentials-endpoint.
That needs root (the address is added to lo for the run and removed after) and port 80 on
it: so this is a command to run by hand, not part of `make test`, whose steps run beside
other jobs on a shared machine.

Usage, as root: bash test/converge/awslogs_lines.sh IMAGE (it runs this in the
converge's venv, with the python of the infra checks' venv, which renders the unit).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
INSTANCE_ID = "i-0a11c0ffee0000001"
CREDENTIALS_HOST = "169.254.170.2"  # fixed in Docker's awslogs driver
CREDENTIALS_PATH = "/awslogs-lines"
NAME_PREFIX = "awslogs"
RENDER = """
import json, sys
sys.path.insert(0, "test/lib")
import cloudconfig
unit = cloudconfig.unit_for_image(sys.argv[1], name_prefix=sys.argv[2])
print(json.dumps(cloudconfig.docker_run_argv(unit)))
"""


class Credentials(BaseHTTPRequestHandler):
    asked: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        Credentials.asked.append(self.path)
        body = json.dumps({"AccessKeyId": "emulator", "SecretAccessKey": "emulator", "Token": "emulator",
                           "Expiration": "2099-01-01T00:00:00Z"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def adapt(argv: list[str], name: str, port: int, endpoint: str) -> tuple[list[str], list[str]]:
    subs = {
        "--name": ("micro-service", name),
        "--publish": (None, f"127.0.0.1:{port}:8080"),
    }
    out, changes, i = [], [], 0
    while i < len(argv):
        word = argv[i]
        if word in subs and i + 1 < len(argv):
            old, new = argv[i + 1], subs[word][1]
            out += [word, new]
            changes.append(f"{word} {old} -> {new}")
            i += 2
            continue
        for var, value in (("${COREOS_EC2_REGION}", REGION), ("${COREOS_EC2_INSTANCE_ID}", INSTANCE_ID)):
            if var in word:
                changes.append(f"{word} -> {word.replace(var, value)}")
                word = word.replace(var, value)
        out.append(word)
        i += 1
    extra = ["--detach", "--log-opt", f"awslogs-endpoint={endpoint}",
             "--log-opt", f"awslogs-credentials-endpoint={CREDENTIALS_PATH}"]
    out[1:1] = extra
    changes.append("+ " + " ".join(extra))
    return out, changes


def main(image: str, render_python: str) -> int:
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per API call otherwise

    argv = json.loads(subprocess.run([render_python, "-c", RENDER, image, NAME_PREFIX],
                                     cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    group = next(w.split("=", 1)[1] for w in argv if w.startswith("awslogs-group="))
    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port)
    moto.start()
    endpoint = f"http://127.0.0.1:{moto_port}"
    logs = boto3.client("logs", region_name=REGION, endpoint_url=endpoint,
                        aws_access_key_id="emulator", aws_secret_access_key="emulator")
    logs.create_log_group(logGroupName=group)  # what terraform/logging.tf creates

    added = subprocess.run(["ip", "addr", "add", f"{CREDENTIALS_HOST}/32", "dev", "lo"], capture_output=True, text=True)
    if added.returncode != 0 and "File exists" not in added.stderr:
        print(f"  cannot add {CREDENTIALS_HOST} to lo (root needed): {added.stderr.strip()}")
        return 1
    server = HTTPServer((CREDENTIALS_HOST, 80), Credentials)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    name = f"awslogs-lines-{int(time.time())}"
    port = free_port()
    run_argv, changes = adapt(argv, name, port, endpoint)
    print(f"  the unit's docker run, changed only in: {'; '.join(changes)}")
    try:
        subprocess.run(["docker", *run_argv], check=True, capture_output=True, text=True)
        # Sent percent-encoded where a client must; the last one's query is not logged.
        paths = ["/ping", "/", "/health", "/a%22b%5Cc", "/nope?secret=1"]
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        for path in paths[1:]:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2)
            except OSError:
                pass  # 404 and /health's 500 are answers too
        events: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sum(e.startswith("{") for e in events) < len(paths):
            time.sleep(1)
            streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]]
            if INSTANCE_ID in streams:
                events = [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=INSTANCE_ID)["events"]]
        print(f"  credentials asked at {CREDENTIALS_HOST}{Credentials.asked[0] if Credentials.asked else ' (never)'}")
        print(f"  log group {group}, stream {INSTANCE_ID}: {len(events)} events")
        for e in events:
            print(f"    {e}")
        parsed = [json.loads(e) for e in events if e.startswith("{")]
        got = [(p["method"], p["path"]) for p in parsed]
        ok = len(parsed) == len(paths) and all(p["version"] for p in parsed)
        print(f"  {'ok  ' if ok else 'FAIL'} every request arrived as one JSON line: {got}")
        return 0 if ok else 1
    finally:
        subprocess.run(["docker", "rm", "--force", name], capture_output=True)
        server.shutdown()
        server.server_close()
        if added.returncode == 0:
            subprocess.run(["ip", "addr", "del", f"{CREDENTIALS_HOST}/32", "dev", "lo"], capture_output=True)
        moto.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
