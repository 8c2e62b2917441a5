"""Commands that ask for no version are not refused for a race: the server runs them again.

Parallel record uploads without If-Match answered 409 version_conflict: each read the case at the
same version and all but one lost the append.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.conftest import Api, open_case, upload

pytestmark = pytest.mark.integration


def test_parallel_record_uploads_without_if_match_all_land(api: Api):
    case_id = open_case(api)
    kinds = ["pathology_report", "treatment_history", "oncologist_letter", "pathology_slides"] * 2
    with ThreadPoolExecutor(len(kinds)) as pool:
        answers = list(pool.map(lambda kind: upload(api, case_id, kind), kinds))
    assert [r.status_code for r in answers] == [201] * len(kinds), [r.text for r in answers if r.status_code != 201]
    case = api.call("intake", "GET", f"/cases/{case_id}").json()
    assert case["version"] >= 1 + len(kinds)


def test_a_command_with_a_stale_if_match_is_still_refused(api: Api):
    case_id = open_case(api)
    assert upload(api, case_id, "pathology_report").status_code == 201
    stale = upload(api, case_id, "treatment_history", headers={"If-Match": '"1"'})
    assert stale.status_code == 409 and stale.json()["code"] == "version_conflict"
