"""Billing's composition root: settings, database, event store, price book, payment provider."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from events.store import Clock, utc_now
from services.billing.accounts import Billing
from services.billing.pricing import load_price_book
from services.billing.provider import SimulatedProvider
from services.billing.settings import BillingSettings
from services.common.runtime import build_runtime

SERVICE = "billing"
SCHEMA = "billing"
HERE = Path(__file__).parent


def bootstrap(settings: BillingSettings | None = None, clock: Clock = utc_now) -> Billing:
    settings = settings or BillingSettings()
    book = load_price_book(settings.price_book)  # refuse to start on a book that breaks the ranges
    rt = build_runtime(SERVICE, SCHEMA, settings, [HERE / "migrations"], clock)
    provider = SimulatedProvider(rt.pool)
    provider.install()
    shared = {f.name: getattr(rt, f.name) for f in dataclasses.fields(rt)}
    return Billing(**shared, price_book=book, provider=provider)
