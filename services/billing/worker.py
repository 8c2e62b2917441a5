"""Billing's worker: invoices opened cases, applies fee credits, publishes its outbox."""

from services.billing.accounts import billing_consumer
from services.billing.bootstrap import bootstrap
from services.common.runtime import run_worker


def main() -> None:
    rt = bootstrap()
    run_worker(rt, [billing_consumer(rt)])


if __name__ == "__main__":
    main()
