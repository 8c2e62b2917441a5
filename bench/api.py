"""Intake's HTTP API: the peak rate of open-case (closed loop), then its latency open-loop at half of
that peak, beside an empty endpoint served the same way (the ceiling).

The peak comes from THREADS keep-alive clients sending back to back; the latency from the fixed-rate
driver (bench.openloop), whose late sends count as waiting. The clients run on the same two cores
as the server, which lowers every figure here, the ceiling's alike.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from bench import BenchFailed, Figures, percentiles, scaled, settle
from bench.openloop import open_loop
from infra.stack import api_argv

THREADS = 8
OPEN_BODY = {"patient": {"name": "Bench Patient", "date_of_birth": "1970-01-01"},
             "tumour_site": "breast", "stage_group": "II", "referral_reasons": ["stage_borderline"],
             "patient_country": "GB", "language": "en"}
EMPTY_PORT = 8190

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
            duration: float) -> tuple[Figures, float]:
    """The figures at a fixed offered rate, and their p99 (ms) from each request's due time."""
    local = threading.local()
    made: list[httpx.Client] = []

    def one(_: int) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=base_url, headers=headers, timeout=30.0)
            made.append(client)
        r = send(client)
        if r.status_code != 201:
            raise RuntimeError(f"HTTP {r.status_code}: {r.text[:200]}")

    try:
        result = open_loop(one, rate, duration)
    finally:
        for c in made:
            c.close()
    p99 = result.p(99) * 1000
    return [("offered rate (open loop)", rate, "req/s"), ("achieved rate", result.achieved_rate, "req/s"),
            ("p50 from due time", result.p(50) * 1000, "ms"), ("p99 from due time", p99, "ms"),
            ("worst send lateness", result.max_lateness * 1000, "ms"), ("failed", len(result.errors), "")], p99


def _open(client: httpx.Client) -> httpx.Response:
    return client.post("/cases", json=OPEN_BODY)


def run(base_url: str, token: Callable[[], str], database_url: str, summary: dict[str, Any]) -> Figures:
    # A token per phase: each lives minutes, the benchmark longer.
    rate, closed_p99 = peak(base_url, {"Authorization": f"Bearer {token()}"}, _open, scaled(1500, 100))
    # The services' reactions to the cases just opened must not share the cores with the next phase.
    settle(database_url)
    summary["http_open_case_peak_rps"] = rate
    half, p99 = at_rate(base_url, {"Authorization": f"Bearer {token()}"}, _open, rate / 2,
                        duration=max(5.0, 15.0 * min(1.0, scaled(100) / 100)))
    summary["http_open_case_p99_ms_at_half_peak"] = p99
    return [("open-case peak, closed loop", rate, "req/s"), ("closed-loop p99 at peak", closed_p99, "ms"),
            *((f"at half peak: {label}", value, unit) for label, value, unit in half)]


def empty_endpoint(summary: dict[str, Any]) -> Figures:
    """The same server, the same client, an endpoint that does nothing: what the framework costs."""
    proc = subprocess.Popen(api_argv("bench.empty_app:create_app", EMPTY_PORT), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{EMPTY_PORT}"
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
