"""A timer sweep over many cases: one transaction per case, one case's failure never stops the rest."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from uuid import UUID

import psycopg

from events import metrics
from events.db import ConcurrencyConflict, Conn, Connections, DatabaseUnavailable
from services.common import actor

log = logging.getLogger(__name__)


def sweep(pool: Connections, case_ids: Iterable[UUID], handle: Callable[[Conn, UUID], int], *, service: str) -> int:
    """Runs `handle(conn, case_id)` for each case in a transaction of its own; returns the events appended."""
    appended = 0
    for case_id in case_ids:
        try:
            # A timer's events are the timer's, even when an admin's POST /admin/timers ran the sweep.
            with actor.acting_as(actor.timer()), pool.connection() as conn, conn.transaction():
                appended += handle(conn, case_id)
        except ConcurrencyConflict:
            # A command on this case won the race; the next sweep decides on the new history.
            continue
        except (psycopg.OperationalError, DatabaseUnavailable):
            raise  # the database is gone: the whole sweep stops and the caller retries it later
        except Exception:
            # One case's failure (bad data, a bug) must not stop the timers of every other case.
            log.exception("%s timer sweep: case %s failed; it is retried by the next sweep", service, case_id)
            metrics.TIMER_FAILURES.labels(service).inc()
    return appended
