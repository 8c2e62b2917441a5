"""The centre registry: a versioned data file, validated at load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from events.codes import CentreId, TumourSite

DEFAULT_FILE = Path(__file__).with_name("centres.json")
Capability = Literal["rare_tumour_breadth", "cancer_only_centre", "proton_therapy", "integrative_oncology",
                     "early_phase_trials"]


class Centre(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: CentreId
    name: str = Field(min_length=3)
    city: str = Field(min_length=2)
    calendar: Literal["cn_mainland"]
    capacity: int = Field(ge=1, le=1000, description="concurrent reviews the centre takes")
    specialties: frozenset[TumourSite] = Field(min_length=1)
    capabilities: frozenset[Capability] = frozenset()
    tumour_boards: frozenset[str] = Field(min_length=1)


class CentreRegistry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    centres: tuple[Centre, ...]

    @model_validator(mode="after")
    def _each_centre_once(self) -> CentreRegistry:
        ids = [c.id for c in self.centres]
        if len(ids) != len(set(ids)):
            raise ValueError("a centre is listed twice")
        return self

    def get(self, centre_id: CentreId) -> Centre:
        return next(c for c in self.centres if c.id is centre_id)


class RegistryError(Exception):
    pass


def load_registry(path: Path = DEFAULT_FILE) -> CentreRegistry:
    try:
        return CentreRegistry.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise RegistryError(f"centre registry {path}: {exc}") from exc
