"""The console's page times: the worklist and the case page, open loop, with 1,000 cases stored.

Each page is rendered by the console from the services' APIs called with the signed-in person's
token (the case page makes seven calls, in parallel), so its time is the console's own work plus the
slowest of those calls. The driver (bench.openloop) sends at a fixed rate and counts a late send as
waiting; it runs on the same two cores as the whole stack. The pages' weights are reported beside.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from bench import BenchFailed, Figures, scaled
from bench.api import OPEN_BODY
from bench.openloop import open_loop
from infra.signin import console_session

CASES = 1000
RATE = 8.0  # pages per second, each page several API calls
DURATION_S = 20.0


def _stored(intake: str, token: Callable[[], str], want: int) -> list[str]:
    """Opens cases until the worklist lists `want` open ones; their ids."""
    with httpx.Client(base_url=intake, timeout=30) as c:
        def listed() -> list[str]:
            ids, cursor = [], None
            while True:
                r = c.get("/cases", params={"limit": 200, **({"cursor": cursor} if cursor else {})},
                          headers={"Authorization": f"Bearer {token()}"})
                r.raise_for_status()
                ids += [i["case_id"] for i in r.json()["items"]]
                cursor = r.json()["next_cursor"]
                if not cursor:
                    return ids

        have = listed()
        lock, made = threading.Lock(), list[str]()

        def open_some(n: int) -> None:
            with httpx.Client(base_url=intake, timeout=30) as mine:
                for _ in range(n):
                    r = mine.post("/cases", json=OPEN_BODY, headers={"Authorization": f"Bearer {token()}"})
                    if r.status_code != 201:
                        raise BenchFailed(f"opening a case: {r.status_code} {r.text[:200]}")
                    with lock:
                        made.append(r.json()["case_id"])

        missing = max(0, want - len(have))
        threads = [threading.Thread(target=open_some, args=(missing // 4 + (i < missing % 4),)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return have + made


def run(console: str, intake: str, token: Callable[[], str], password: str, summary: dict[str, Any]) -> Figures:
    cases = _stored(intake, token, scaled(CASES, 50))
    browser = console_session(console, "coordinator", password)
    cookies = dict(browser.cookies)
    browser.close()
    local = threading.local()

    def client() -> httpx.Client:
        if not hasattr(local, "c"):
            local.c = httpx.Client(base_url=console, timeout=30, cookies=cookies, follow_redirects=False)
        return local.c

    sizes: dict[str, int] = {}

    def page(path: str, name: str) -> None:
        r = client().get(path)
        if r.status_code != 200:
            raise BenchFailed(f"{path}: {r.status_code}")
        sizes[name] = max(sizes.get(name, 0), len(r.content))

    pick = random.Random(7)
    worklist = open_loop(lambda i: page("/worklist", "worklist"), RATE, scaled(int(DURATION_S), 5), workers=8)
    time.sleep(1)
    case_page = open_loop(lambda i: page(f"/cases/{pick.choice(cases)}", "case"), RATE,
                          scaled(int(DURATION_S), 5), workers=8)
    for path, name in (("/operations", "operations"), ("/cases/new", "new case"), ("/quote", "quote")):
        page(path, name)  # the other pages a coordinator reaches, weighed once
    assets = sum(len(httpx.get(console + p).content) for p in
                 ("/static/console.css", "/static/console.js", "/static/htmx/htmx.min.js"))
    summary["console_worklist_p95_ms_at_1k_cases"] = worklist.p(95) * 1000
    summary["console_case_page_p95_ms_at_1k_cases"] = case_page.p(95) * 1000
    summary["console_page_max_kb"] = (max(sizes.values()) + assets) / 1024
    return [("cases stored", len(cases), "cases"), ("offered rate", RATE, "pages/s"),
            ("worklist p50", worklist.p(50) * 1000, "ms"), ("worklist p95", worklist.p(95) * 1000, "ms"),
            ("case page p50", case_page.p(50) * 1000, "ms"), ("case page p95", case_page.p(95) * 1000, "ms"),
            ("heaviest page with its assets", summary["console_page_max_kb"], "KB"),
            *((f"{name} page alone", size / 1024, "KB") for name, size in sorted(sizes.items()))]
