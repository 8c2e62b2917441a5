"""The payment provider behind an interface, and a local simulated provider.

Every call carries an idempotency key derived from the fact that caused it, so a retry after a
timeout or a crash asks for the same operation again and the provider answers with the first
result instead of charging twice. The simulated provider keeps its own books in schema
`payment_sim`, on its own autocommitted connections: like a real provider, what it did stays
done even when our transaction rolls back.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal, Protocol

from events.db import Pool, Queries

Operation = Literal["authorise", "capture", "refund", "void"]
FaultMode = Literal["fail", "timeout"]


class ProviderError(Exception):
    pass


class ProviderDeclined(ProviderError):
    """The provider refused: nothing happened."""


class ProviderTimeout(ProviderError):
    """No answer in time: the operation may or may not have happened. Retry with the same key."""


class PaymentProvider(Protocol):
    def perform(self, operation: Operation, key: str, amount_cents: int, reference: str | None = None) -> str:
        """Performs `operation` once per `key` and returns the provider's reference for it."""
        ...


_SQL = Path(__file__).with_name("provider.sql")


class SimulatedProvider:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self._q = Queries(_SQL, "payment_sim")

    def install(self) -> None:
        with self.pool.connection() as conn:
            for stmt in ("schema", "operations", "faults", "faults_by_amount"):
                conn.execute(self._q[stmt])

    def inject(self, operation: Operation, mode: FaultMode, times: int = 1, amount_cents: int | None = None) -> None:
        with self.pool.connection() as conn:
            conn.execute(self._q["set_fault"], {"operation": operation, "mode": mode, "remaining": times,
                                                "amount_cents": amount_cents})

    def perform(self, operation: Operation, key: str, amount_cents: int, reference: str | None = None) -> str:
        with self.pool.connection() as conn:
            row = conn.execute(self._q["perform"], {
                "key": key, "operation": operation, "amount_cents": amount_cents, "reference": reference,
                "ref": f"sim_{secrets.token_hex(8)}"}).fetchone()
            assert row is not None
            mode = row["mode"]
            if mode == "fail":
                raise ProviderDeclined(f"{operation} declined by the provider")
            if row["ref"] is None:
                row = conn.execute(self._q["by_key"], {"key": key}).fetchone()
        assert row is not None
        if row["operation"] != operation or row["amount_cents"] != amount_cents:
            raise ProviderDeclined(f"idempotency key {key} reused for a different operation")
        if mode == "timeout":
            # The worst case of a timeout: the provider did it, the caller never heard.
            raise ProviderTimeout(f"{operation} timed out")
        return str(row["ref"])

    def totals(self) -> dict[str, int]:
        with self.pool.connection() as conn:
            return {r["operation"]: int(r["total"]) for r in conn.execute(self._q["totals"]).fetchall()}
