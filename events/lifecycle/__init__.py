"""A case's life across the four services, stated once: how it ends, its status, whose move it is
and since when, its deadline and its SLA state. Pure: a fold over the case's events, whoever
produced them. The worklist (intake), the live views and analytics all fold with this module, so a
new ending or a new party a case can wait on is a change here and nowhere else.

Order. Each service's events of a case arrive in the order that service appended them, but the
four services' streams interleave in whatever order their relays ran. Every fact is kept in a field
of its own, set only by the service that owns it and with its event time, and the answers are read
from those fields: the same whatever the interleaving. An event is applied once per producer and
stream version, so the same life may be folded from a command's own events and again from the topic.

Status, first match:
    the first ending by event time         treatment_booked, closed, cancelled, withdrawn, expired,
                                           erased, declined_by_all_centres (routing's final decline)
    review_delivered                       the centre delivered its review
    ready_for_review                       the records are complete and both consents in force
    collecting_records                     otherwise

Whose move it is (`waiting_on`), first match, and since when:
    nobody        an ended case                               since it ended
    patient       records or consents still missing           since it opened
    patient       the centre asked for information            since the request
    billing       a payment failed, nothing succeeded since   since the failure
    centre        a follow-up question is open                since the oldest open one was asked
    patient       the review is delivered (their decision)    since delivery or the last answer
    coordinator   no centre holds the case                    since it was ready, or last released
    centre        a centre holds the case                     since it was routed there, or the
                                                              move last came back to it

The SLA state, first match (review's view and analytics.sla_cases speak the same vocabulary):
    not_started        no centre's acceptance in force (never accepted, or declined since)
    delivered_on_time  the clock stopped at delivery within the 10-business-day limit
    delivered_late     ... after it
    stopped            the case ended before a verdict, other than by a booking or a closure
    breached           the limit passed (a pause does not undo it)
    calendar_unknown   the clock needs a year the centres' calendar does not know
    paused             the centre waits on the patient
    at_risk            2 business days left
    on_track           otherwise

The deadline, nearest first: the SLA limit while the clock runs (its target while the calendar
lacks the limit's year), an open follow-up's due date, the centre's deadline to accept while it has
not; none once ended.
"""

from events.lifecycle.fold import FOLDED, apply, fold
from events.lifecycle.life import (
    CENTRES,
    ENDED,
    ENDINGS,
    INTAKE_ENDINGS,
    INTAKE_STOPPING,
    PARTIES,
    RUNNING,
    SLA_STATES,
    STOPPING,
    Clock,
    Life,
    Party,
    SlaState,
    Status,
)
from events.lifecycle.storage import dump, jsonable, load

__all__ = [
    "CENTRES",
    "ENDED",
    "ENDINGS",
    "FOLDED",
    "INTAKE_ENDINGS",
    "INTAKE_STOPPING",
    "PARTIES",
    "RUNNING",
    "SLA_STATES",
    "STOPPING",
    "Clock",
    "Life",
    "Party",
    "SlaState",
    "Status",
    "apply",
    "dump",
    "fold",
    "jsonable",
    "load",
]
