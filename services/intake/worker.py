"""Intake's worker: publishes its outbox, learns of delivered reviews, runs reminders and expiry."""

import logging
import threading

from events.consumer import Consumer
from services.common.runtime import run_worker
from services.intake import cases
from services.intake.bootstrap import bootstrap

log = logging.getLogger(__name__)
TIMER_PERIOD_S = 60.0


def main() -> None:
    ix = bootstrap()

    def timers(stop: threading.Event) -> None:
        # The live clock drives the sweep here; a simulator drives it through POST /admin/timers.
        while not stop.wait(TIMER_PERIOD_S):
            try:
                cases.run_timers(ix, ix.store.clock())
            except Exception:
                log.exception("timer sweep failed; retrying next period")

    run_worker(ix, [Consumer("deliveries", {"ReviewDelivered": cases.on_review_delivered})],
               extra={"timers": timers})


if __name__ == "__main__":
    main()
