"""Errors that command handlers raise; the HTTP layer maps each to a problem+json status."""


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
