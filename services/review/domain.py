"""A centre's review of a case: accept, then deliver once. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from events.codes import CentreId
from events.contract import Event, ReviewAccepted, ReviewDelivered
from services.common.errors import Rejected


@dataclass
class Review:
    version: int = 0
    accepted_by: CentreId | None = None
    delivered: bool = False

    def apply(self, event: Event) -> None:
        self.version += 1
        match event:
            case ReviewAccepted():
                self.accepted_by = event.centre_id
            case ReviewDelivered():
                self.delivered = True

    @property
    def state(self) -> str:
        if self.delivered:
            return "delivered"
        return "accepted" if self.accepted_by else "assigned"


def fold(events: list[Event]) -> Review:
    review = Review()
    for e in events:
        review.apply(e)
    return review


def accept(review: Review, centre: CentreId) -> list[Event]:
    if review.accepted_by is not None:
        raise Rejected("the case is already accepted", "already_accepted")
    return [ReviewAccepted(centre_id=centre)]


def deliver(review: Review, delivery: ReviewDelivered) -> list[Event]:
    if review.delivered:
        raise Rejected("the review is already delivered", "already_delivered")
    if review.accepted_by is None:
        raise Rejected("accept the case before delivering its review", "not_accepted")
    return [delivery]
