"""Routing's worker: routes complete cases and publishes its outbox."""

from services.common.runtime import run_worker
from services.routing.bootstrap import bootstrap
from services.routing.router import router_consumer


def main() -> None:
    rt = bootstrap()
    run_worker(rt, [router_consumer(rt)])


if __name__ == "__main__":
    main()
