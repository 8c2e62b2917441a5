"""Routing's worker: routes complete cases, withdraws those not accepted in time, publishes its outbox."""

from services.common.runtime import live_timers, run_worker
from services.routing import application
from services.routing.bootstrap import bootstrap
from services.routing.settings import RoutingSettings


def main() -> None:
    settings = RoutingSettings()
    rt = bootstrap(settings)
    run_worker(rt, [application.router_consumer(rt)],
               extra=live_timers(settings.timer_period_s, lambda: application.run_timers(rt, rt.store.clock())))


if __name__ == "__main__":
    main()
