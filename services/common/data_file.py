"""Versioned data files a service validates at load (the price book, the partner centres).

A service refuses to start on a file that cannot be read, is not JSON, or breaks its model's
rules, so the error names the file and what is wrong with it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class DataFileError(Exception):
    """A data file that cannot be read, is not JSON, or does not validate."""


def load_data_file(model: type[M], path: Path, what: str) -> M:
    """The file's JSON as `model`; `what` names it in the error ("price book", ...)."""
    try:
        return model.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise DataFileError(f"{what} {path}: {exc}") from exc
