"""The live views as `/windows` serves them: JSON for people and scripts, times in ISO 8601.

The table keeps each window's start as epoch seconds (its keys, `<p>:h:<centre>:<start>`, and the
fold's arithmetic); a reader gets the UTC hour as `2026-03-02T09:00:00+00:00`, the UTC day as
`2026-03-02`, and event times (the oldest wait, the watermark) as ISO timestamps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.live.tables import Views


def iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


def document(v: Views) -> dict[str, Any]:
    return {
        "hours": [{"centre": c, "kind": k, "hour": iso(h), "count": n} for (c, k, h), n in sorted(v.hours.items())],
        "days": [{"centre": c, "kind": k, "day": datetime.fromtimestamp(d, UTC).date().isoformat(), "count": n}
                 for (c, k, d), n in sorted(v.days.items())],
        "waiting": {p: {"cases": n, "oldest_since": iso(s)} for p, (n, s) in v.waiting.items()},
        "watermark": iso(v.watermark),
    }
