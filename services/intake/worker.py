"""Intake's worker: publishes its outbox, learns of delivered reviews, runs reminders and expiry."""

import logging
import threading

from events.consumer import Consumer
from services.common.runtime import run_worker
from services.intake import application
from services.intake.bootstrap import bootstrap
from services.intake.settings import IntakeSettings

log = logging.getLogger(__name__)


def main() -> None:
    settings = IntakeSettings()
    rt = bootstrap(settings)

    def timers(stop: threading.Event) -> None:
        # The live clock drives the sweep here; a simulator drives it through POST /admin/timers.
        while not stop.wait(settings.timer_period_s):
            try:
                application.run_timers(rt, rt.store.clock())
            except Exception:
                log.exception("timer sweep failed; retrying next period")

    run_worker(rt, [Consumer("deliveries", {"ReviewDelivered": application.on_review_delivered(rt)})],
               extra={"timers": timers} if settings.timer_period_s else None)


if __name__ == "__main__":
    main()
