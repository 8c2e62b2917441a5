"""Review's worker: learns assignments from routing and publishes its outbox."""

from services.common.runtime import run_worker
from services.review.bootstrap import bootstrap
from services.review.reviews import assignments_consumer


def main() -> None:
    run_worker(bootstrap(), [assignments_consumer()])


if __name__ == "__main__":
    main()
