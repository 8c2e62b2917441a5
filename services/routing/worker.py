"""Routing's worker: routes complete cases and publishes its outbox."""

from services.common.runtime import run_worker
from services.routing.application import router_consumer
from services.routing.bootstrap import bootstrap


def main() -> None:
    rt = bootstrap()
    run_worker(rt, [router_consumer(rt)])


if __name__ == "__main__":
    main()
