"""A start's waits: they give up only when nothing has moved for their patience (infra/readiness.py)."""

from __future__ import annotations

import pytest


def test_a_wait_gives_up_only_when_nothing_has_moved_for_its_patience():
    from infra.readiness import Waiting

    now = [0.0]
    sign = [0]
    said: list[str] = []
    waiting = Waiting("the thing", "its.log", signs=lambda: sign[0], idle_s=10, every=5, say=said.append,
                      clock=lambda: now[0])
    for _ in range(30):  # 60 s in all, moving every 2 s: never gives up
        now[0] += 2
        sign[0] += 1
        waiting.still("half-way")
    assert said and said[0].startswith("  waiting for the thing") and "half-way" in said[0]
    now[0] += 9
    waiting.still()
    now[0] += 2
    with pytest.raises(SystemExit, match="nothing moved for 10s"):
        waiting.still()


def test_the_patience_is_a_setting(monkeypatch: pytest.MonkeyPatch):
    from infra.readiness import Waiting

    monkeypatch.setenv("CASE_LEDGER_READY_TIMEOUT_S", "321")
    assert Waiting("x", "y").idle_s == 321
