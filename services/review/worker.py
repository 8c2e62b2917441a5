"""Review's worker: learns assignments, resumes clocks when information arrives, fires SLA timers."""

from services.common.runtime import live_timers, run_worker
from services.review import application
from services.review.bootstrap import bootstrap
from services.review.settings import ReviewSettings


def main() -> None:
    settings = ReviewSettings()
    rt = bootstrap(settings)
    run_worker(rt, [application.reactions(rt)],
               extra=live_timers(settings.sla_timer_period_s, lambda: application.run_timers(rt, rt.store.clock())))


if __name__ == "__main__":
    main()
