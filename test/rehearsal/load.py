"""A bounded HTTP load client (stdlib only) that records every answer and every failure.

Half of the threads keep one connection open and send request after request on it (as
browsers and the ALB's clients do); the other half open a fresh connection per request
with `Connection: close`. Each thread alternates `/` and `/ping`, so both routes go
through the balancer. Every request becomes one `Result`: when it was sent and answered,
which version answered (`Server: micro-service/<version>`), and, if it failed, why:
a connection error or reset, a non-200 status, or a wrong body.

The load stops at whichever comes first: `stop()`, `max_requests`, or `max_seconds`.
"""

import http.client
import threading
import time
from dataclasses import dataclass

EXPECTED = {"/": b"Hello World!", "/ping": b"Pong!"}


@dataclass(frozen=True)
class Result:
    sent: float  # time.monotonic() when the request was about to be written
    done: float  # when the answer (or the error) arrived
    path: str
    keepalive: bool  # sent on a reused connection (or a fresh one)
    version: str | None  # from the Server header; None if there was no answer
    error: str | None  # None for a correct 200 answer
    server: str | None  # the balancer's name for the server it chose (diagnostics)


class Load:
    def __init__(self, host, port, threads=6, max_requests=200_000, max_seconds=120.0, pause=0.002):
        self.host, self.port = host, port
        self.threads = threads
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.pause = pause  # between requests of a thread: leave CPU to the balancer and the instances
        self.results: list[Result] = []  # list.append is atomic under the GIL
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._budget = threading.Semaphore(max_requests)

    def start(self):
        self._deadline = time.monotonic() + self.max_seconds
        for i in range(self.threads):
            keepalive = i % 2 == 0
            t = threading.Thread(target=self._run, args=(keepalive, i), daemon=True)
            t.start()
            self._workers.append(t)
        return self

    def stop(self):
        self._stop.set()
        for t in self._workers:
            t.join(timeout=10)
        return self.results

    def _go_on(self):
        return (
            not self._stop.is_set()
            and time.monotonic() < self._deadline
            and self._budget.acquire(blocking=False)
        )

    def _run(self, keepalive, index):
        conn = None
        n = index  # threads start on different paths
        while self._go_on():
            path = "/" if n % 2 == 0 else "/ping"
            n += 1
            if conn is None:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
            reused = keepalive and conn.sock is not None
            headers = {} if keepalive else {"Connection": "close"}
            sent = time.monotonic()
            version = error = server = None
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                server = resp.getheader("X-Rehearsal-Server")
                version = _version(resp.getheader("Server"))
                if resp.status != 200:
                    error = f"status {resp.status}"
                elif body != EXPECTED[path]:
                    error = f"wrong body {body[:40]!r}"
                if not keepalive or resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                # Connection refused/reset, timeouts, a connection closed before the answer.
                error = type(e).__name__ + (f": {e}" if str(e) else "")
                conn.close()
                conn = None
            self.results.append(Result(sent, time.monotonic(), path, reused, version, error, server))
            if self.pause:
                time.sleep(self.pause)
        if conn is not None:
            conn.close()


def _version(server_header):
    if server_header and server_header.startswith("micro-service/"):
        return server_header.split("/", 1)[1]
    return None


def summary(results, start=None, end=None):
    """Counts of the results sent within [start, end): total, failures, answers per version."""
    sel = [r for r in results if (start is None or r.sent >= start) and (end is None or r.sent < end)]
    failures = [r for r in sel if r.error]
    versions: dict[str, int] = {}
    for r in sel:
        if r.version:
            versions[r.version] = versions.get(r.version, 0) + 1
    return sel, failures, versions
