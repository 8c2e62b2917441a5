"""Intake's HTTP API: the peak rate of open-case (closed loop), then its latency open-loop at half of
that peak, beside an empty endpoint served the same way (the ceiling).

The peak comes from THREADS keep-alive clients sending back to back; the latency from the fixed-rate
driver (bench.openloop), whose late sends count as waiting. The clients run on the same two cores
as the server, which lowers every figure here, the ceiling's alike.
"""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from bench import BenchFailed, Figures, percentiles, scaled, settle
from bench.openloop import OpenLoopResult, open_loop
from infra.stack import Stack, api_argv

THREADS = 8
# The open loop's sender threads, each with its own keep-alive client.
SENDERS = 32
OPEN_BODY = {"patient": {"name": "Bench Patient", "date_of_birth": "1970-01-01"},
             "tumour_site": "breast", "stage_group": "II", "referral_reasons": ["stage_borderline"],
             "patient_country": "GB", "language": "en"}
# The empty endpoint's server: the stack's port base + this.
EMPTY_OFFSET = 90
INTAKE_WORKER = "intake-worker"

Send = Callable[[httpx.Client], httpx.Response]


def _closed_loop(clients: list[httpx.Client], per_client: int, send: Send) -> tuple[float, list[float], list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def work(client: httpx.Client) -> None:
        mine, bad = [], []
        for _ in range(per_client):
            start = time.perf_counter()
            try:
                r = send(client)
            except httpx.HTTPError as exc:
                bad.append(f"{type(exc).__name__}: {exc}")
                continue
            if r.status_code != 201:
                bad.append(f"{r.status_code}: {r.text[:200]}")
                continue
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)
            errors.extend(bad)

    threads = [threading.Thread(target=work, args=(c,), daemon=True) for c in clients]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return len(latencies) / elapsed, latencies, errors


def _clients(base_url: str, headers: dict[str, str], n: int) -> list[httpx.Client]:
    return [httpx.Client(base_url=base_url, headers=headers, timeout=30.0) for _ in range(n)]


def peak(base_url: str, headers: dict[str, str], send: Send, requests: int) -> tuple[float, float]:
    """Requests per second with THREADS clients back to back, and that loop's p99 (ms)."""
    clients = _clients(base_url, headers, THREADS)
    try:
        _closed_loop(clients, max(2, requests // (10 * THREADS)), send)  # warm-up: connections, code paths
        rate, latencies, errors = _closed_loop(clients, max(2, requests // THREADS), send)
    finally:
        for c in clients:
            c.close()
    if errors:
        raise BenchFailed(f"{len(errors)} requests failed at peak, first: {errors[0]}")
    return rate, percentiles(latencies, (99,))[99] * 1000


def at_rate(base_url: str, headers: dict[str, str], send: Send, rate: float,
            duration: float) -> tuple[Figures, OpenLoopResult]:
    """The figures at a fixed offered rate; p99 counts from each request's due time."""
    # Every sender's client is made and connected before the clock starts: an httpx.Client builds
    # an SSL context when made (tens of ms of CPU, more with 32 made at once under the GIL), and
    # made lazily inside the run those were the idle run's slowest requests, the driver's cost.
    clients: queue.SimpleQueue[httpx.Client] = queue.SimpleQueue()
    made = _clients(base_url, headers, SENDERS)
    for client in made:
        client.get("/healthz").raise_for_status()
        clients.put(client)
    local = threading.local()

    def one(_: int) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = clients.get_nowait()
        r = send(client)
        if r.status_code != 201:
            raise RuntimeError(f"HTTP {r.status_code}: {r.text[:200]}")

    try:
        result = open_loop(one, rate, duration, workers=SENDERS)
    finally:
        for c in made:
            c.close()
    return [("achieved rate", result.achieved_rate, "req/s"),
            ("p50 from due time", result.p(50) * 1000, "ms"), ("p99 from due time", result.p(99) * 1000, "ms"),
            ("p99 from send (service time)", result.service_p(99) * 1000, "ms"),
            ("driver lateness p99", result.lateness_p(99) * 1000, "ms"),
            ("driver lateness max", result.max_lateness * 1000, "ms"), ("failed", len(result.errors), "")], result


def _open(client: httpx.Client) -> httpx.Response:
    return client.post("/cases", json=OPEN_BODY)


def _record(summary: dict[str, Any], suffix: str, result: OpenLoopResult) -> None:
    summary[f"http_open_case_p99_ms_at_half_peak{suffix}"] = result.p(99) * 1000
    summary[f"http_open_case_service_p99_ms_at_half_peak{suffix}"] = result.service_p(99) * 1000
    summary[f"http_driver_lateness_p99_ms{suffix}"] = result.lateness_p(99) * 1000
    summary[f"http_driver_lateness_max_ms{suffix}"] = result.max_lateness * 1000


def run(base_url: str, token: Callable[[], str], database_url: str, summary: dict[str, Any],
        stack: Stack) -> Figures:
    # A token per phase: each lives minutes, the benchmark longer.
    rate, closed_p99 = peak(base_url, {"Authorization": f"Bearer {token()}"}, _open, scaled(1500, 100))
    # The services' reactions to the cases just opened must not share the cores with the next phase.
    settle(database_url)
    summary["http_open_case_peak_rps"] = rate
    duration = max(5.0, 15.0 * min(1.0, scaled(100) / 100))
    # Loaded: every service reacts to each case as it is opened (about four events a case through
    # the relays, the broker and five consumer groups), on the same two cores as the API.
    loaded, result = at_rate(base_url, {"Authorization": f"Bearer {token()}"}, _open, rate / 2, duration)
    _record(summary, "_loaded", result)
    settle(database_url)
    # Idle: intake's worker (its relay, its consumers) is stopped for the run, so the cases' events
    # wait in intake's outbox and no service reacts: only the HTTP path (the API, its pool,
    # PostgreSQL) runs. Started again after, its backlog drains before the next phase.
    stack.stop(INTAKE_WORKER)
    try:
        idle, result = at_rate(base_url, {"Authorization": f"Bearer {token()}"}, _open, rate / 2, duration)
    finally:
        stack.start(INTAKE_WORKER)
    _record(summary, "", result)
    if not settle(database_url, timeout=90.0):
        raise BenchFailed("intake's outbox did not drain within 90 s of its worker's restart")
    return [("open-case peak, closed loop", rate, "req/s"), ("closed-loop p99 at peak", closed_p99, "ms"),
            ("offered rate (open loop), half the peak", rate / 2, "req/s"),
            *((f"pipeline idle: {label}", value, unit) for label, value, unit in idle),
            *((f"pipeline loaded: {label}", value, unit) for label, value, unit in loaded)]


def empty_endpoint(summary: dict[str, Any], port_base: int) -> Figures:
    """The same server, the same client, an endpoint that does nothing: what the framework costs."""
    port = port_base + EMPTY_OFFSET
    proc = subprocess.Popen(api_argv("bench.empty_app:create_app", port), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.post(f"{base}/cases", timeout=1.0)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise BenchFailed("the empty endpoint's server did not start") from None
                time.sleep(0.2)
        rate, p99 = peak(base, {}, lambda c: c.post("/cases", json=OPEN_BODY), scaled(6000, 500))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    summary["ceiling_empty_endpoint_rps"] = rate
    return [("empty endpoint peak, closed loop", rate, "req/s"), ("its p99", p99, "ms")]
