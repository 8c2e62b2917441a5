"""Billing's composition root: settings, database, event store, price book, payment provider."""

from __future__ import annotations

from pathlib import Path

from events.db import Connections, open_pool
from events.store import Clock, utc_now
from services.billing.application import BillingRuntime
from services.billing.books import BillingBooks, Books
from services.billing.pricing import load_price_book
from services.billing.provider import PaymentProvider, SimulatedProvider
from services.billing.settings import BillingSettings
from services.common.runtime import ServiceStore, build_runtime

SERVICE = "billing"
SCHEMA = "billing"
HERE = Path(__file__).parent


def bootstrap(settings: BillingSettings | None = None, clock: Clock = utc_now, *, pool: Connections | None = None,
              store: ServiceStore | None = None, provider: PaymentProvider | None = None,
              books: BillingBooks | None = None) -> BillingRuntime:
    """Billing's runtime; each dependency left out is the real one (build_runtime says which for
    `pool` and `store`; the provider is the simulated one), and a unit test hands in fakes."""
    settings = settings or BillingSettings()
    book = load_price_book(settings.price_book)  # refuse to start on a book that breaks the ranges
    if provider is None:
        # The simulated provider is another system: its own connections, its own books.
        simulated = SimulatedProvider(open_pool(settings.database_url, max_size=2, name="payment-sim"))
        simulated.install()
        provider = simulated
    return build_runtime(SERVICE, SCHEMA, settings, [HERE / "migrations"], clock, runtime_class=BillingRuntime,
                         pool=pool, store=store, price_book=book, provider=provider, books=books or Books(SCHEMA))
