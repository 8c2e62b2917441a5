"""The analytics projector: consumes every event into schema `analytics`. It appends no events."""

from services.analytics.bootstrap import bootstrap
from services.analytics.projections import timeline_consumer
from services.common.runtime import run_worker


def main() -> None:
    run_worker(bootstrap(), [timeline_consumer()], relay=False)


if __name__ == "__main__":
    main()
