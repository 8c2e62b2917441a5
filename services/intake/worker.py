"""Intake's worker: publishes its outbox, learns of delivered reviews, runs reminders and expiry."""

import logging
import threading

from events.consumer import Consumer
from services.common.runtime import run_worker
from services.intake import cases
from services.intake.bootstrap import bootstrap
from services.intake.settings import IntakeSettings

log = logging.getLogger(__name__)


def main() -> None:
    settings = IntakeSettings()
    ix = bootstrap(settings)

    def timers(stop: threading.Event) -> None:
        # The live clock drives the sweep here; a simulator drives it through POST /admin/timers.
        while not stop.wait(settings.timer_period_s):
            try:
                cases.run_timers(ix, ix.store.clock())
            except Exception:
                log.exception("timer sweep failed; retrying next period")

    run_worker(ix, [Consumer("deliveries", {"ReviewDelivered": cases.on_review_delivered})],
               extra={"timers": timers} if settings.timer_period_s else None)


if __name__ == "__main__":
    main()
