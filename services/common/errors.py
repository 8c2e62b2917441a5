"""Errors that command handlers raise; the HTTP layer maps each to a problem+json status."""

from __future__ import annotations

from datetime import datetime


class NotFound(Exception):
    pass


class Rejected(Exception):
    """A command the case's current state does not allow (HTTP 409)."""

    def __init__(self, reason: str, code: str = "illegal_transition", field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.field = field


class InvalidInput(Exception):
    """Input that passed schema validation but is wrong for this case (HTTP 422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def not_dated_before(at: datetime, earlier: datetime | None, what: str, field: str = "occurred_at") -> None:
    """A fact dated before a fact it depends on is wrong input (422), named by its date field.

    Each domain says which earlier fact each of its commands depends on; this only words the
    refusal alike everywhere. `earlier` None: that fact's time is not known here, nothing to hold to.
    """
    if earlier is not None and at < earlier:
        raise InvalidInput(field, f"dated {at.isoformat()}, before {what} ({earlier.isoformat()})")
