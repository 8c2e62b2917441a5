"""Decoding by (event type, schema version), with upcasters for old versions.

An upcaster rewrites the payload of version N into version N+1; decoding applies them in a
chain until the current model's version, so consumers only ever see current models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from events.contract import ALL_EVENTS, Envelope, Event

Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]


class DecodeError(Exception):
    """A message that cannot become a known, valid event; `reason` is a short code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Decoded:
    envelope: Envelope
    event: Event


class Registry:
    def __init__(self, models: Iterable[type[Event]]) -> None:
        self._models: dict[str, type[Event]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        for model in models:
            if model.event_type in self._models:
                raise ValueError(f"event type declared twice: {model.event_type}")
            self._models[model.event_type] = model

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        def register(fn: Upcaster) -> Upcaster:
            self._upcasters[(event_type, from_version)] = fn
            return fn

        return register

    def knows(self, event_type: str) -> bool:
        return event_type in self._models

    def model(self, event_type: str) -> type[Event]:
        return self._models[event_type]

    def models(self) -> list[type[Event]]:
        return list(self._models.values())

    def decode(self, raw: bytes | str) -> Decoded:
        try:
            envelope = Envelope.model_validate_json(raw)
        except ValidationError as exc:
            raise DecodeError("invalid_envelope", _short(exc)) from exc
        return Decoded(envelope, self.decode_payload(envelope.event_type, envelope.schema_version,
                                                     envelope.payload))

    def decode_payload(self, event_type: str, version: int, payload: Payload) -> Event:
        model = self._models.get(event_type)
        if model is None:
            raise DecodeError("unknown_event_type", event_type)
        if version > model.schema_version:
            raise DecodeError("unknown_schema_version", f"{event_type} v{version}")
        while version < model.schema_version:
            step = self._upcasters.get((event_type, version))
            if step is None:
                raise DecodeError("no_upcaster", f"{event_type} v{version}")
            payload = step(payload)
            version += 1
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            raise DecodeError("invalid_payload", _short(exc)) from exc


def _short(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
    )[:500]


def build_registry() -> Registry:
    registry = Registry(ALL_EVENTS)

    # CaseOpened v1 carried a single `referral_reason`; v2 allows several reasons per case.
    @registry.upcaster("CaseOpened", 1)
    def _case_opened_v1_to_v2(payload: Payload) -> Payload:
        upgraded = dict(payload)
        upgraded["referral_reasons"] = [upgraded.pop("referral_reason")]
        return upgraded

    # SlaClockStopped and SlaAtRisk v2 only allow null where v1 required a value: v1 is valid v2.
    # CaseRouted v2 adds `accept_by`, None by default: a v1 routing had no acceptance deadline.
    for loosened in ("SlaClockStopped", "SlaAtRisk", "CaseRouted"):
        registry.upcaster(loosened, 1)(dict)

    return registry
