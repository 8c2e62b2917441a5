"""A worker process's own /healthz, /readyz and /metrics, for an orchestrator that probes each process.

On the embedded stack supervisord watches the worker and its API serves the service's metrics
from the directory both write (PROMETHEUS_MULTIPROC_DIR). In Kubernetes (deploy/k8s) a worker is
a pod of its own: the kubelet probes it, and Prometheus scrapes it, over HTTP. So a worker serves
these three when CASE_LEDGER_WORKER_HEALTH_PORT is set, and nothing otherwise.

- /healthz: alive while none of the worker's threads has died (run_threads stops the process
  when one does, and the orchestrator restarts it).
- /readyz: its database and a broker answer, the same checks as an API's /readyz.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

Check = Callable[[], bool]


def handler_class(alive: Check, checks: dict[str, Check], multiproc: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server calls it by this name
            if self.path == "/healthz":
                ok = alive()
                self._json(200 if ok else 503, {"status": "alive" if ok else "stopping"})
            elif self.path == "/readyz":
                results = {name: check() for name, check in checks.items()}
                ready = all(results.values())
                self._json(200 if ready else 503, {"ready": ready, "checks": results})
            elif self.path == "/metrics":
                registry = REGISTRY
                if multiproc:
                    registry = CollectorRegistry()
                    multiprocess.MultiProcessCollector(registry)
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            else:
                self._json(404, {"title": "Not Found", "status": 404})

        def _json(self, status: int, body: dict[str, Any]) -> None:
            self._send(status, json.dumps(body).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # probes every few seconds would drown the worker's own log

    return Handler


class WorkerHealth:
    """Serves the endpoints on `port` for as long as the worker runs (a run_threads target)."""

    def __init__(self, port: int, checks: dict[str, Check], *, bind: str = "0.0.0.0", multiproc: bool = False) -> None:
        self._stop: threading.Event | None = None
        handler = handler_class(lambda: self._stop is not None and not self._stop.is_set(), checks, multiproc)
        self.server = ThreadingHTTPServer((bind, port), handler)
        self.server.daemon_threads = True

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def serve(self, stop: threading.Event) -> None:
        self._stop = stop
        thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                  name="worker-health-http", daemon=True)
        thread.start()
        try:
            stop.wait()
        finally:
            self.server.shutdown()
            self.server.server_close()
