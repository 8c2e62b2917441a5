"""The analysts' charts as server-rendered SVG: the geometry here (pure, unit-tested), the markup in a template.

Shares are drawn on a 0-100 % axis. The travel share of each centre is a bar with its 95% Wilson
interval as a whisker (analytics computes the interval; the drawing only places it); the change
rates are bars beside the literature's range, drawn as a band; the SLA on-time share is a line
over the months. Every chart has a text alternative: the same figures in a table below it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

WIDTH, HEIGHT = 640, 260
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 48, 16, 16, 40


def share(value: Any) -> float | None:
    """A share as the API gives it (a number or a decimal string), clamped to [0, 1]; None if absent."""
    if value is None:
        return None
    try:
        found = float(Decimal(str(value)))
    except ArithmeticError:
        return None
    return min(max(found, 0.0), 1.0)


@dataclass(frozen=True)
class Axis:
    """Maps a share in [0, 1] to a y coordinate: 0 at the bottom of the plot, 1 at its top."""

    top: float = MARGIN_TOP
    bottom: float = HEIGHT - MARGIN_BOTTOM

    def y(self, value: float) -> float:
        return round(self.bottom - value * (self.bottom - self.top), 1)

    def ticks(self) -> list[tuple[float, str]]:
        return [(self.y(v / 100), f"{v} %") for v in (0, 25, 50, 75, 100)]


@dataclass(frozen=True)
class Bar:
    label: str
    x: float
    width: float
    y: float
    height: float
    value: float | None
    # The whisker (interval) or band (reference range), as y coordinates; None when absent.
    low_y: float | None = None
    high_y: float | None = None

    @property
    def centre(self) -> float:
        return round(self.x + self.width / 2, 1)


def slots(n: int, width: float = WIDTH) -> list[tuple[float, float]]:
    """(x, width) of n bars spread over the plot, each with a gap of a third of its slot."""
    if n <= 0:
        return []
    plot = width - MARGIN_LEFT - MARGIN_RIGHT
    slot = plot / n
    return [(round(MARGIN_LEFT + i * slot + slot / 6, 1), round(slot * 2 / 3, 1)) for i in range(n)]


def interval_bars(rows: list[tuple[str, Any, Any, Any]], axis: Axis = Axis()) -> list[Bar]:
    """Bars of (label, share, low, high): the share as the bar, [low, high] as its whisker."""
    bars = []
    for (label, value, low, high), (x, w) in zip(rows, slots(len(rows)), strict=True):
        v, lo, hi = share(value), share(low), share(high)
        top = axis.y(v) if v is not None else axis.bottom
        bars.append(Bar(label, x, w, top, round(axis.bottom - top, 1), v,
                        axis.y(lo) if lo is not None else None, axis.y(hi) if hi is not None else None))
    return bars


def line(points: list[tuple[str, Any]], axis: Axis = Axis()) -> tuple[str, list[tuple[float, float, str, float]]]:
    """The polyline's points attribute and each marker (x, y, label, value) of a share over time."""
    spread = slots(len(points))
    markers = [(round(x + w / 2, 1), axis.y(v), label, v) for (label, value), (x, w) in zip(points, spread, strict=True)
               if (v := share(value)) is not None]
    return " ".join(f"{x},{y}" for x, y, _, _ in markers), markers


def percent(value: Any) -> str:
    v = share(value)
    return "—" if v is None else f"{v * 100:.1f} %"
