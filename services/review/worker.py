"""Review's worker: learns assignments, resumes clocks when information arrives, fires SLA timers."""

import logging
import threading

from services.common.runtime import run_worker
from services.review import application
from services.review.bootstrap import bootstrap
from services.review.settings import ReviewSettings

log = logging.getLogger(__name__)


def main() -> None:
    settings = ReviewSettings()
    rt = bootstrap(settings)

    def timers(stop: threading.Event) -> None:
        # The live clock drives the sweep here; a simulator drives it through POST /admin/timers.
        while not stop.wait(settings.sla_timer_period_s):
            try:
                application.run_timers(rt, rt.store.clock())
            except Exception:
                log.exception("SLA timer sweep failed; retrying next period")

    run_worker(rt, [application.reactions(rt)], extra={"timers": timers} if settings.sla_timer_period_s else None)


if __name__ == "__main__":
    main()
