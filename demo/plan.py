"""The plan of a demo year: who the patients are and what happens to each case, when. Pure.

Every random choice comes from one `random.Random(seed)`, so a seed gives the same year every
time; nothing here does I/O (the business-day calendar is passed in, or built from the
chinese-calendar tables already in memory). The driver (play.py) turns each Step into HTTP calls.

Times are business times in Asia/Shanghai: reviewers act in office hours (09:00-18:00) on the
centres' business days; patients and coordinators act at any hour. The SLA arithmetic mirrors
services/review/sla.py: day 1 is the first business day after acceptance; a pause makes the day
it starts not count, and the day the clock resumes count; the report is delivered on the n-th
counted day, so the clock records n business days used (at risk when n >= 9, breached when n >= 11).
"""


from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

from demo.clinic import Clinic
from demo.population import (
    RECORD_FOR_TOPIC,
    TRAVEL_SCALE,
    TRAVEL_WEIGHT,
    _add_business_days,
    _at,
    _hours,
    _pick,
)
from demo.shape import (
    DELIVERY_DAYS,
    DIAGNOSIS_CHANGED,
    EXTRA_QUOTES,
    LAST_START,
    SHARE_BOOKED_OF_DECIDED,
    SHARE_CANCELLED,
    SHARE_DECLINED_FIRST,
    SHARE_EXPIRED,
    SHARE_FROM_QUOTE,
    SHARE_GLASS_SLIDES,
    SHARE_INFORMATION_REQUEST,
    SHARE_PREFERRED_CENTRE,
    SHARE_PROTON_QUESTION,
    SHARE_RECORDS_REQUESTED,
    SHARE_REDEEMED,
    SHARE_UNDECIDED,
    SHARE_VIDEO,
    SHARE_WITHDRAWN,
    TREATMENT_CHANGED,
    TZ,
    Action,
    Booking,
    BusinessDays,
    CasePlan,
    Decision,
    Fate,
    Patient,
    Profile,
    QuotePlan,
    ReviewPlan,
    Step,
    T,
    YearPlan,
    default_calendar,
    quote_body,
)
from events.codes import (
    CancellationReason,
    ConsentKind,
    DeclineReason,
    InformationTopic,
    RecordKind,
    ReferralReason,
)

__all__ = [
    "DELIVERY_DAYS",
    "DIAGNOSIS_CHANGED",
    "EXTRA_QUOTES",
    "LAST_START",
    "SHARE_BOOKED_OF_DECIDED",
    "SHARE_CANCELLED",
    "SHARE_DECLINED_FIRST",
    "SHARE_EXPIRED",
    "SHARE_FROM_QUOTE",
    "SHARE_GLASS_SLIDES",
    "SHARE_INFORMATION_REQUEST",
    "SHARE_PREFERRED_CENTRE",
    "SHARE_PROTON_QUESTION",
    "SHARE_RECORDS_REQUESTED",
    "SHARE_REDEEMED",
    "SHARE_UNDECIDED",
    "SHARE_VIDEO",
    "SHARE_WITHDRAWN",
    "TREATMENT_CHANGED",
    "TZ",
    "Action",
    "Booking",
    "BusinessDays",
    "CasePlan",
    "Decision",
    "Fate",
    "Patient",
    "Profile",
    "QuotePlan",
    "ReviewPlan",
    "Step",
    "T",
    "YearPlan",
    "default_calendar",
    "in_order",
    "plan_year",
    "quote_body",
]


class _Planner(Clinic):
    def __init__(self, rng: random.Random, cal: BusinessDays, year: int) -> None:
        super().__init__(rng)
        self.cal, self.year = cal, year
        self.year_end = datetime(year, 12, 31, 22, 0, tzinfo=TZ)

    # -------------------------------------------------------------- time
    def office(self, after: datetime, business_days: int) -> datetime:
        """Office hours on the business_days-th business day after `after`'s date, strictly later than
        `after`; 0 means later the same day when it is a business day with office hours left."""
        day = after.astimezone(TZ).date()
        if business_days == 0:
            start = max(9.0, _hours(after) + 0.25)
            if self.cal.is_business_day(day) and start < 17.5:
                return _at(day, self.rng.uniform(start, 18.0))
            business_days = 1
        return _at(_add_business_days(self.cal, day, business_days), self.rng.uniform(9.0, 18.0))

    def later(self, after: datetime, low_hours: float, high_hours: float) -> datetime:
        """A patient's or coordinator's moment: any hour, low..high hours after `after`."""
        moment = after + timedelta(hours=self.rng.uniform(low_hours, high_hours))
        return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)

    def start_day(self) -> date:
        first, last = date(self.year, 1, 5), date(self.year, *LAST_START)
        span = (last - first).days
        while True:  # a programme that grows: later days are up to 1.5 times as likely
            offset = self.rng.randrange(span + 1)
            if self.rng.random() * 1.5 <= 1 + 0.5 * offset / span:
                return first + timedelta(days=offset)

    def case(self, number: int, fate: Fate) -> CasePlan:
        # Each phase draws from the one random stream in turn: their order is part of the seed's year.
        rng = self.rng
        profile = self.profile()
        start = self.start_day()
        opened = _at(start, rng.uniform(7.0, 22.0))
        patient = self.patient(profile, start, number)
        steps, from_quote, ready = self._collection(profile, opened, fate)
        if ready is None:
            return self._finish(number, patient, profile, from_quote, fate, False, None, None, None, False, steps)
        declined_first, accepted = self._routing(steps, ready)

        # Cancellation and withdrawal before acceptance: the steps after that moment never happen.
        withdrawn_early = fate == "withdrawn" and rng.random() < 0.6
        if fate == "cancelled" or withdrawn_early:
            moment = self.later(opened, 1, max(1.5, (accepted - opened).total_seconds() / 3600 - 1))
            return self._ended(number, patient, profile, from_quote, fate, moment, steps)

        business_days, information, delivered = self._acceptance(steps, accepted)
        if fate == "withdrawn":  # during the review, before delivery
            moment = self.later(accepted, 1, max(1.5, (delivered - accepted).total_seconds() / 3600 - 1))
            return self._ended(number, patient, profile, from_quote, fate, moment, steps)

        review = self.review(profile, business_days, information)
        steps.append(Step(delivered - timedelta(minutes=1), "timers"))
        steps.append(Step(delivered, "deliver", self.delivery_body(profile, review)))
        after = self._video(profile, steps, delivered)
        decision, booking, redeems = self._decision(number, steps, review, after)
        return self._finish(number, patient, profile, from_quote, fate, declined_first, review, decision, booking,
                            redeems, steps)

    def _collection(self, profile: Profile, opened: datetime, fate: Fate
                    ) -> tuple[list[Step], bool, datetime | None]:
        """Quote, opening, consents, records and slides: the steps, whether quoted, when ready (None: expires)."""
        rng = self.rng
        steps: list[Step] = []
        from_quote = rng.random() < SHARE_FROM_QUOTE
        if from_quote:
            quoted = max(opened - timedelta(hours=rng.uniform(2, 14 * 24)), datetime(self.year, 1, 1, 8, tzinfo=TZ))
            steps.append(Step(min(quoted, opened - timedelta(minutes=5)), "quote"))
        steps.append(Step(opened, "open"))
        processing = self.later(opened, 0.05, 0.5)
        transfer = self.later(processing, 0.05, 1.0) if rng.random() < 0.85 else self.later(processing, 20, 72)
        steps.append(Step(processing, "consent", {"consent": ConsentKind.HEALTH_DATA_PROCESSING.value}))
        steps.append(Step(transfer, "consent", {"consent": ConsentKind.TRANSFER_ABROAD.value,
                                                 "centre_ids": [c.value for c in profile.consented_centres]}))
        complete = self._records(profile, opened, fate, steps)
        return steps, from_quote, None if fate == "expired" else max(complete, transfer, processing)

    def _records(self, profile: Profile, opened: datetime, fate: Fate, steps: list[Step]) -> datetime:
        """Appends the uploads, slides and any request for what is missing; returns when the set is complete."""
        rng = self.rng
        kinds: list[RecordKind] = [RecordKind.PATHOLOGY_REPORT, RecordKind.TREATMENT_HISTORY,
                                   RecordKind.ONCOLOGIST_LETTER, RecordKind.ONCOLOGIST_LETTER]
        kinds += [RecordKind.IMAGING] * profile.imaging_studies
        if not profile.glass_slides:
            kinds.append(RecordKind.PATHOLOGY_SLIDES)
        if profile.genomic_report:
            kinds.append(RecordKind.GENOMIC_REPORT)
        rng.shuffle(kinds)
        held_back: list[RecordKind] = []
        requested = fate == "expired" or rng.random() < SHARE_RECORDS_REQUESTED
        if requested:
            # The first batch misses one or two required kinds: one of the two letters, or every imaging
            # study, or the one report of a kind, so that the checklist really is incomplete.
            required = sorted({k for k in kinds if k is not RecordKind.GENOMIC_REPORT or
                               ReferralReason.GENOMIC_GUIDED in profile.referral_reasons})
            for kind in rng.sample(required, k=rng.choice((1, 1, 2))):
                for _ in range(kinds.count(kind) if kind is RecordKind.IMAGING else 1):
                    kinds.remove(kind)
                    held_back.append(kind)
        uploads = sorted(self.later(opened, 0.1, 48) for _ in kinds)
        steps += [Step(at, "upload", {"kind": k.value}) for at, k in zip(uploads, kinds, strict=True)]
        complete = max(uploads, default=opened)
        if profile.glass_slides:
            shipped = self.later(opened, 20, 72)
            received = self.office(self.later(shipped, 72, 8 * 24), 0)
            steps.append(Step(shipped, "ship_slides", {"slide_count": rng.choice((4, 6, 8, 10, 12, 16, 20))}))
            steps.append(Step(received, "receive_slides"))
            complete = max(complete, received)
        if requested:
            asked = self.office(opened + timedelta(days=rng.uniform(1.5, 3.5)), 0)
            steps.append(Step(asked, "request_records"))
            if fate != "expired":
                late = sorted(self.later(asked, 18, 10 * 24) for _ in held_back)
                steps += [Step(at, "upload", {"kind": k.value}) for at, k in zip(late, held_back, strict=True)]
                complete = max(complete, *late)
        return complete

    def _routing(self, steps: list[Step], ready: datetime) -> tuple[bool, datetime]:
        """Routing, a first centre's decline perhaps; returns whether declined, and when a centre accepts."""
        rng = self.rng
        steps.append(Step(ready + timedelta(seconds=1), "await_routing"))
        declined_first = rng.random() < SHARE_DECLINED_FIRST
        if declined_first:
            declined = self.office(ready, rng.choice((0, 0, 1)))
            steps.append(Step(declined, "decline", {"reason": _pick(rng, {
                DeclineReason.AT_CAPACITY: 40, DeclineReason.OUTSIDE_EXPERTISE: 25,
                DeclineReason.RECORDS_INSUFFICIENT: 20, DeclineReason.CONFLICT_OF_INTEREST: 5,
                DeclineReason.OTHER: 10}).value}))
            return True, self.office(declined + timedelta(hours=2), rng.choice((0, 1, 1, 2)))
        return False, self.office(ready + timedelta(minutes=30), rng.choice((0, 1, 1, 1, 2)))

    def _acceptance(self, steps: list[Step], accepted: datetime) -> tuple[int, bool, datetime]:
        """Acceptance and any information request; returns the business days used, whether asked, delivery."""
        rng = self.rng
        steps.append(Step(accepted, "accept"))
        business_days = _pick(rng, DELIVERY_DAYS)
        information = rng.random() < SHARE_INFORMATION_REQUEST
        delivered, pause = self._delivery_moment(accepted, business_days, information)
        if pause is not None:
            asked, supplied, topic = pause
            steps.append(Step(asked, "request_information", {"topics": [topic.value]}))
            steps.append(Step(supplied, "supply_information", {"kind": RECORD_FOR_TOPIC.get(
                topic, RecordKind.TREATMENT_HISTORY).value}))
        return business_days, information, delivered

    def _ended(self, number: int, patient: Patient, profile: Profile, from_quote: bool, fate: Fate,
               moment: datetime, steps: list[Step]) -> CasePlan:
        kept = [s for s in steps if s.at < moment]
        kept.append(self._ending(fate, moment, kept))
        # The decline happens only if it came before the ending.
        was_declined = any(s.action == "decline" for s in kept)
        return self._finish(number, patient, profile, from_quote, fate, was_declined, None, None, None, False, kept)

    def _video(self, profile: Profile, steps: list[Step], delivered: datetime) -> datetime:
        """The video consultation's steps, if wanted; returns when the patient's decision can start."""
        if not profile.wants_video:
            return delivered
        rng = self.rng
        requested_video = self.later(delivered, 2, 48)
        scheduled = self.later(requested_video, 1, 24)
        held_at = self.office(scheduled, rng.choice((3, 4, 5, 6, 7)))
        steps.append(Step(requested_video, "video", {"step": "request"}))
        steps.append(Step(scheduled, "video", {"step": "schedule", "scheduled_for": held_at.isoformat()}))
        steps.append(Step(held_at + timedelta(minutes=50), "video",
                          {"step": "held" if rng.random() < 0.9 else "missed"}))
        return held_at + timedelta(minutes=50)

    def _decision(self, number: int, steps: list[Step], review: ReviewPlan, after: datetime
                  ) -> tuple[Decision, Booking | None, bool]:
        """The patient's decision: undecided, treatment booked (and its bill redeemed), or home."""
        rng = self.rng
        decided = self._decision_moment(after)
        if rng.random() < SHARE_UNDECIDED or decided is None:
            return "undecided", None, False
        if rng.random() >= min(0.95, TRAVEL_SCALE * TRAVEL_WEIGHT[review.pathway]):
            steps.append(Step(decided, "close"))
            return "returned_home", None, False
        booking = self.booking(review.pathway)
        steps.append(Step(decided, "book", {"treatment_type": booking.treatment_type.value,
                                            "travel_reason": booking.travel_reason.value,
                                            "estimated_cost_cents": booking.estimated_cost_cents,
                                            "centre_id": booking.centre.value if booking.centre else None}))
        billed = decided + timedelta(days=rng.uniform(14, 60))
        redeems = rng.random() < SHARE_REDEEMED and billed < self.year_end
        if redeems:
            steps.append(Step(billed.replace(second=0, microsecond=0), "redeem",
                              {"treatment_invoice_ref": f"tx-{number:04d}-{rng.randrange(10**6):06d}"}))
        return "booked_treatment", booking, redeems

    def _ending(self, fate: Fate, moment: datetime, before: list[Step]) -> Step:
        rng = self.rng
        if fate == "cancelled":
            return Step(moment, "cancel", {"reason": _pick(rng, {
                CancellationReason.PATIENT_REQUEST: 30, CancellationReason.FINANCIAL: 25,
                CancellationReason.TREATED_ELSEWHERE: 25, CancellationReason.CLINICAL_DETERIORATION: 12,
                CancellationReason.PATIENT_DECEASED: 3, CancellationReason.OTHER: 5}).value})
        # Only a consent in force can be withdrawn; the processing consent comes minutes after opening.
        given = [s.data["consent"] for s in before if s.action == "consent"]
        transfer = ConsentKind.TRANSFER_ABROAD.value
        consent = transfer if transfer in given and rng.random() < 0.6 else given[0]
        return Step(moment, "withdraw_consent", {"consent": consent})

    def _delivery_moment(self, accepted: datetime, n: int, information: bool
                         ) -> tuple[datetime, tuple[datetime, datetime, InformationTopic] | None]:
        """The delivery on the n-th counted business day, and the information pause if there is one."""
        rng, cal = self.rng, self.cal
        ask_after = rng.randrange(1, n) if information else None  # counted days before the request
        day, counted = accepted.astimezone(TZ).date(), 0
        pause: tuple[datetime, datetime, InformationTopic] | None = None
        while True:
            day += timedelta(days=1)
            if not cal.is_business_day(day):
                continue
            if ask_after is not None and pause is None and counted == ask_after:
                asked = _at(day, rng.uniform(9.5, 17.0))
                supplied = _at(day + timedelta(days=rng.choice((1, 2, 2, 3, 3, 4, 5, 6, 8))), rng.uniform(7.0, 12.0))
                topic = _pick(rng, {InformationTopic.ADDITIONAL_IMAGING: 30, InformationTopic.PATHOLOGY_BLOCKS: 15,
                                    InformationTopic.RECUT_SLIDES: 10, InformationTopic.GENOMIC_RESULTS: 15,
                                    InformationTopic.TREATMENT_DETAILS: 20, InformationTopic.LABORATORY_RESULTS: 10})
                pause = (asked, supplied, topic)
                day = supplied.astimezone(TZ).date() - timedelta(days=1)  # the resumption day counts
                continue
            counted += 1
            if counted == n:
                break
        earliest = 9.0
        if pause is not None and pause[1].astimezone(TZ).date() == day:
            earliest = _hours(pause[1]) + 1
        return _at(day, rng.uniform(earliest, 18.5)), pause

    def _decision_moment(self, after: datetime) -> datetime | None:
        rng = self.rng
        latest = self.year_end - timedelta(days=1)
        if after + timedelta(days=1) >= latest:
            return None
        wait = timedelta(days=rng.triangular(1.5, 45, 9))
        moment = after + wait
        if moment >= latest:
            moment = after + timedelta(seconds=rng.uniform(86400, (latest - after).total_seconds()))
        return moment.replace(second=0, microsecond=0)

    def _finish(self, number: int, patient: Patient, profile: Profile, from_quote: bool, fate: Fate,
                declined_first: bool, review: ReviewPlan | None, decision: Decision | None, booking: Booking | None,
                redeems: bool, steps: list[Step]) -> CasePlan:
        ordered = sorted(steps, key=lambda s: s.at)
        return CasePlan(number=number, patient=patient, question=self.question(profile), profile=profile,
                        from_quote=from_quote, fate=fate, declined_first=declined_first, review=review,
                        decision=decision, booking=booking, redeems=redeems, steps=tuple(ordered))


def plan_year(cases: int = 300, seed: int = 2026, year: int = 2026, calendar: BusinessDays | None = None) -> YearPlan:
    """The year's cases in order of opening, and the quotes that never became a case."""
    cal = calendar or default_calendar()
    if year not in cal.known_years:
        raise ValueError(f"the centres' calendar does not know {year}; known: {sorted(cal.known_years)[-3:]}")
    rng = random.Random(seed)
    planner = _Planner(rng, cal, year)
    fates: list[Fate] = []
    for _ in range(cases):
        r = rng.random()
        fates.append("cancelled" if r < SHARE_CANCELLED else "withdrawn" if r < SHARE_CANCELLED + SHARE_WITHDRAWN
                     else "expired" if r < SHARE_CANCELLED + SHARE_WITHDRAWN + SHARE_EXPIRED else "delivered")
    plans = sorted((planner.case(i, fate) for i, fate in enumerate(fates)), key=lambda c: c.steps[0].at)
    numbered = tuple(_renumber(p, i + 1) for i, p in enumerate(plans))
    extra: list[QuotePlan] = []
    for i in range(round(EXTRA_QUOTES * cases)):
        at = _at(planner.start_day(), rng.uniform(6.0, 23.5))
        extra.append(QuotePlan(i + 1, at, planner.profile()))
    return YearPlan(year=year, seed=seed, cases=numbered, extra_quotes=tuple(sorted(extra, key=lambda q: q.at)))


def _renumber(plan: CasePlan, number: int) -> CasePlan:
    return replace(plan, number=number)


def in_order(steps: Sequence[Step]) -> bool:
    return all(a.at <= b.at for a, b in itertools.pairwise(steps))
