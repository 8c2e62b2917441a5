"""Billing's composition root."""

from __future__ import annotations

from pathlib import Path

from events.store import Clock, utc_now
from services.billing.settings import BillingSettings
from services.common.runtime import Runtime, build_runtime

SERVICE = "billing"
SCHEMA = "billing"
HERE = Path(__file__).parent


def bootstrap(settings: BillingSettings | None = None, clock: Clock = utc_now) -> Runtime:
    return build_runtime(SERVICE, SCHEMA, settings or BillingSettings(),
                         [HERE / "migrations"], clock)
