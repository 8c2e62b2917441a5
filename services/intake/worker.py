"""Intake's worker: its outbox, delivered reviews, the worklist (every case's life), reminders, expiry."""

from services.common.runtime import live_timers, run_worker
from services.intake import application, reactions
from services.intake.bootstrap import bootstrap
from services.intake.settings import IntakeSettings


def main() -> None:
    settings = IntakeSettings()
    rt = bootstrap(settings)
    run_worker(rt, [reactions.deliveries(rt), rt.worklist.consumer()],
               extra=live_timers(settings.timer_period_s, lambda: application.run_timers(rt, rt.store.clock())))


if __name__ == "__main__":
    main()
