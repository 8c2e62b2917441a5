"""The partner centres: a versioned data file (centres.json), validated at load."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from events.codes import CentreId, TumourSite
from services.common.data_file import load_data_file

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


class PartnerCentres(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    centres: tuple[Centre, ...]

    @model_validator(mode="after")
    def _each_centre_once(self) -> PartnerCentres:
        ids = [c.id for c in self.centres]
        if len(ids) != len(set(ids)):
            raise ValueError("a centre is listed twice")
        return self

    def get(self, centre_id: CentreId) -> Centre:
        return next(c for c in self.centres if c.id is centre_id)


def load_centres(path: Path = DEFAULT_FILE) -> PartnerCentres:
    return load_data_file(PartnerCentres, path, "partner centres")
