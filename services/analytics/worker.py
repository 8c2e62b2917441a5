"""The analytics projector: consumes every event into schema `analytics`. It appends no events."""

from services.analytics.bootstrap import bootstrap
from services.analytics.projections import fact_projector
from services.common.runtime import run_worker


def main() -> None:
    run_worker(bootstrap(), [fact_projector()], relay=False)


if __name__ == "__main__":
    main()
