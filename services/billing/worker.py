"""Billing's worker: invoices, captures, refunds and credits as the case's events arrive."""

from services.billing import application
from services.billing.bootstrap import bootstrap
from services.common.runtime import run_worker


def main() -> None:
    rt = bootstrap()
    run_worker(rt, [application.billing_consumer(rt)])


if __name__ == "__main__":
    main()
