"""Billing's composition root: settings, database, event store, price book, payment provider."""

from __future__ import annotations

from pathlib import Path

from events.db import open_pool
from events.store import Clock, utc_now
from services.billing.application import BillingRuntime
from services.billing.books import Books
from services.billing.pricing import load_price_book
from services.billing.provider import SimulatedProvider
from services.billing.settings import BillingSettings
from services.common.runtime import build_runtime

SERVICE = "billing"
SCHEMA = "billing"
HERE = Path(__file__).parent


def bootstrap(settings: BillingSettings | None = None, clock: Clock = utc_now) -> BillingRuntime:
    settings = settings or BillingSettings()
    book = load_price_book(settings.price_book)  # refuse to start on a book that breaks the ranges
    # The simulated provider is another system: its own connections, its own books.
    provider = SimulatedProvider(open_pool(settings.database_url, max_size=2, name="payment-sim"))
    provider.install()
    return build_runtime(SERVICE, SCHEMA, settings, [HERE / "migrations"], clock, runtime_class=BillingRuntime,
                         price_book=book, provider=provider, books=Books(SCHEMA))
