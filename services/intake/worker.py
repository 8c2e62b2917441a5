"""Intake's worker: publishes its outbox and learns of delivered reviews."""

from events.consumer import Consumer
from services.common.runtime import run_worker
from services.intake import cases
from services.intake.bootstrap import bootstrap


def main() -> None:
    run_worker(bootstrap(), [Consumer("deliveries", {"ReviewDelivered": cases.on_review_delivered})])


if __name__ == "__main__":
    main()
