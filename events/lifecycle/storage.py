"""A `Life` as JSON, for a read model's jsonb column or a faust table value, and back."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

from events.lifecycle.life import Clock, Life


def dump(life: Life) -> dict[str, Any]:
    """JSON-ready (dates as ISO strings), for a read model's jsonb column or a faust table."""
    return jsonable(dataclasses.asdict(life))


def load(data: dict[str, Any] | None) -> Life:
    if not data:
        return Life()
    d = dict(data)
    raw_clock: dict[str, Any] = {k: _date(v) if k.endswith("_due") else v for k, v in d.pop("clock").items()}
    clock = Clock(**raw_clock)
    life = Life(clock=clock, **{k: _parse(k, v) for k, v in d.items() if k in _FIELDS})
    life.follow_ups = {k: (_moment(a), _date(due)) for k, (a, due) in data.get("follow_ups", {}).items()}
    life.endings = {k: _moment(v) for k, v in data.get("endings", {}).items()}
    return life


_FIELDS = {f.name for f in dataclasses.fields(Life)} - {"clock", "follow_ups", "endings"}


def _parse(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name.endswith(("_at", "_since")):
        return _moment(value)
    if name.endswith(("_by", "_due")):
        return _date(value)
    return value


def _moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def jsonable(value: Any) -> Any:
    """Dates and times as ISO strings, tuples as lists: what JSON (and jsonb) can carry."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
