"""Commands per second and latency through intake's HTTP API, from keep-alive client threads.

Phase one opens every case, phase two adds a record to each, so each command gets its own
throughput; "combined" is both phases' commands over both phases' time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from bench import Figures, percentiles

THREADS = 8
CASES = 1000
WARMUP = 2 * THREADS
# Intake now needs the patient (a new one per case) and the record as a multipart upload.
OPEN_BODY = {"patient": {"name": "Bench Patient", "date_of_birth": "1970-01-01"},
             "tumour_site": "breast", "stage_group": "II", "referral_reasons": ["stage_borderline"],
             "patient_country": "GB", "language": "en"}
RECORD_FORM = {"kind": "pathology_report"}
RECORD_FILE = b"%PDF-1.4 bench pathology report\n" + bytes(1024)

Send = Callable[[httpx.Client, Any], httpx.Response]


class Phase:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.case_ids: list[str] = []
        self.errors: list[str] = []
        self.elapsed = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def run(self, clients: Sequence[httpx.Client], items: Sequence[Any], send: Send) -> Phase:
        threads = [threading.Thread(target=self._work, args=(c, items[i::len(clients)], send), daemon=True)
                   for i, c in enumerate(clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        try:
            for t in threads:
                t.join()
        except BaseException:  # interrupted: let the threads end before their clients are closed
            self._stop.set()
            for t in threads:
                t.join(timeout=5)
            raise
        self.elapsed = time.perf_counter() - start
        return self

    def _work(self, client: httpx.Client, items: Sequence[Any], send: Send) -> None:
        latencies, case_ids, errors = [], [], []
        for item in items:
            if self._stop.is_set():
                return
            start = time.perf_counter()
            try:
                response = send(client, item)
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            latencies.append(time.perf_counter() - start)
            if response.status_code == 201:
                case_ids.append(response.json()["case_id"])
            else:
                errors.append(f"{response.status_code}: {response.text[:200]}")
        with self._lock:
            self.latencies += latencies
            self.case_ids += case_ids
            self.errors += errors


def _open(client: httpx.Client, _: object) -> httpx.Response:
    return client.post("/cases", json=OPEN_BODY)


def _add_record(client: httpx.Client, case_id: str) -> httpx.Response:
    return client.post(f"/cases/{case_id}/records", data=RECORD_FORM,
                       files={"file": ("report.pdf", RECORD_FILE, "application/pdf")})


def _figures(name: str, phase: Phase) -> Figures:
    p = percentiles(phase.latencies)
    return [(f"{name} throughput", len(phase.latencies) / phase.elapsed, "req/s"),
            *((f"{name} p{k}", v * 1000, "ms") for k, v in p.items())]


def run(base_url: str, token: str, cases: int = CASES) -> Figures:
    headers = {"Authorization": f"Bearer {token}"}
    clients = [httpx.Client(base_url=base_url, headers=headers, timeout=30.0) for _ in range(THREADS)]
    try:
        # Opens every client's connection and warms the server's code paths; not measured.
        warm = Phase().run(clients, range(WARMUP), _open)
        Phase().run(clients, warm.case_ids, _add_record)
        opened = Phase().run(clients, range(cases), _open)
        added = Phase().run(clients, opened.case_ids, _add_record)
    finally:
        for c in clients:
            c.close()
    errors = opened.errors + added.errors
    if errors:
        print(f"  api: {len(errors)} failed requests, first: {errors[0]}")
    total = len(opened.latencies) + len(added.latencies)
    return [*_figures("open-case", opened), *_figures("add-record", added),
            ("combined throughput", total / (opened.elapsed + added.elapsed), "req/s"),
            ("failed requests", len(errors), "")]
