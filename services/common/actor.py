"""Who is acting: the actor every appended event records in its envelope.

A person's command acts as the subject of their access token (services/common/auth.py binds it
for the request), a reaction as `service:<name>`, a timer sweep as `system:timer`. The actor is
bound for the duration of a request, a sweep or a reaction, and the kernel reads it when it
appends: a command function never passes it along, and an append with no actor bound is refused,
so no event can be recorded without one.

A ContextVar, because each request runs in a context of its own (an asyncio task; a synchronous
endpoint in a worker thread gets a copy of it): one request's actor never reaches another's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

TIMER = "system:timer"


@dataclass(frozen=True)
class Actor:
    # The token's opaque subject, `service:<name>` or `system:timer`: never a name or an email.
    id: str
    # The capacity it acted in: coordinator, billing, analyst, admin, centre:<id>, service, system.
    role: str


_current: ContextVar[Actor | None] = ContextVar("actor", default=None)


def service(name: str) -> Actor:
    return Actor(f"service:{name}", "service")


def timer() -> Actor:
    return Actor(TIMER, "system")


def current() -> Actor | None:
    return _current.get()


def current_id() -> str | None:
    """Who is acting, for a record that is not an event (intake's access audit names the reader)."""
    bound = _current.get()
    return bound.id if bound else None


def bind(actor: Actor) -> None:
    """Binds the actor for the rest of the current context (a request's)."""
    _current.set(actor)


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)
