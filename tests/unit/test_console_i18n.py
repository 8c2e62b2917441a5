"""Every label and message of the console exists in English and in Simplified Chinese."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from events import codes
from events.lifecycle import Status
from services.console import i18n
from services.console.forms import QUOTE_STEPS
from services.console.i18n_codes import CODES
from services.console.i18n_messages import MESSAGES

TEMPLATES = Path(__file__).resolve().parents[2] / "services" / "console" / "templates"
SOURCES = TEMPLATES.parent
# t('key') in a template (not errors.get('key'), which ends the same way).
KEY = re.compile(r"(?<![A-Za-z_.])t\('([a-z0-9_]+)'\)")


def test_every_message_has_both_languages():
    for key, (en, zh) in MESSAGES.items():
        assert en.strip() and zh.strip(), key
        assert re.findall(r"\{\w+\}", en) == re.findall(r"\{\w+\}", zh), f"{key}: the placeholders differ"
        assert re.search(r"[\u4e00-\u9fff]", zh) or key == "app_name" or zh == en, f"{key} has no Chinese"


def test_every_key_a_template_uses_is_in_the_catalogue():
    used = {k for p in TEMPLATES.glob("*.html") for k in KEY.findall(p.read_text())}
    assert used - set(MESSAGES) == set()


def test_the_keys_made_from_codes_are_in_the_catalogue():
    made = {f"q_{s}" for s in QUOTE_STEPS} | {f"q_{s}_hint" for s in QUOTE_STEPS}
    made |= {f"component_{c}" for c in ("review_base", "imaging_studies", "rare_tumour", "glass_slides",
                                         "genomic_guided", "video_consultation")}
    made |= {f"credit_{c}" for c in ("applied", "not_owed_booked_at_another_centre", "awaiting_delivery",
                                      "nothing_paid")}
    made |= {f"ev_{e}" for e in ("CaseRouted", "AssignmentWithdrawn", "CaseRoutingBlocked", "CaseFinallyDeclined")}
    made |= {f"sex_{s}" for s in ("female", "male", "other")}
    source = "".join(p.read_text() for p in SOURCES.glob("*.py"))
    # The actions' names: each redirects to the case page with ?done=<name>.
    made |= {f"done_{n}" for n in re.findall(r'(?:_act|_upload)\(request, case_id, "([a-z_]+)"', source)}
    made |= {f"done_{n}" for n in re.findall(r'\?done=([a-z_]+)', source)}
    made |= {f"error_{k}" for k in re.findall(r'Refused\(\d+, "([a-z_]+)"', source)}
    made |= {f"error_{k}" for k in ("forbidden", "conflict", "unavailable", "api_error", "provider_unreachable")}
    assert made - set(MESSAGES) == set()


@pytest.mark.parametrize(("vocabulary", "enum"), [
    ("tumour_site", codes.TumourSite), ("histology", codes.Histology), ("stage_group", codes.StageGroup),
    ("referral_reason", codes.ReferralReason), ("question_topic", codes.QuestionTopic),
    ("decline_reason", codes.DeclineReason), ("information_topic", codes.InformationTopic),
    ("consent", codes.ConsentKind), ("cancellation_reason", codes.CancellationReason),
    ("outcome_change", codes.OutcomeChange), ("pathway", codes.Pathway), ("treatment_type", codes.TreatmentType),
    ("travel_reason", codes.TravelReason), ("status", Status), ("record_kind", codes.RecordKind)])
def test_every_code_of_a_vocabulary_has_both_labels(vocabulary, enum):
    labels = CODES[vocabulary]
    assert {c.value for c in enum} <= set(labels)
    for code, (en, zh) in labels.items():
        assert en and zh and re.search(r"[\u4e00-\u9fff]", zh), (vocabulary, code)


def test_the_language_follows_the_cookie_then_the_browser():
    assert i18n.negotiate(None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh-CN"
    assert i18n.negotiate(None, "zh-TW") == "zh-CN"
    assert i18n.negotiate(None, "en-GB,zh;q=0.5") == "en"
    assert i18n.negotiate(None, "fr-FR, zh;q=0.4, en;q=0.3") == "zh-CN"
    assert i18n.negotiate(None, "de") == "en"
    assert i18n.negotiate(None, None) == "en"
    assert i18n.negotiate("en", "zh-CN") == "en"
    assert i18n.negotiate("zh-CN", "en") == "zh-CN"
    assert i18n.negotiate("klingon", "zh") == "zh-CN"
    assert i18n.negotiate(None, "en;q=garbage, zh;q=0.1") == "zh-CN"


def test_labels_fall_back_to_the_code():
    assert i18n.label("breast", "tumour_site", "zh-CN") == "乳腺"
    assert i18n.label("something_new", "tumour_site", "en") == "something_new"
    assert i18n.label(None, "tumour_site", "en") == "—"


# The pages a centre's reviewer reaches, and what every page shares; the others are held alike.
REVIEWER_PAGES = ("base.html", "_macros.html", "inbox.html", "review_case.html", "_review_deliver.html",
                  "_review_follow_ups.html", "_viewer.html", "viewer_page.html", "not_found.html", "error.html")
EVERY_PAGE = sorted(p.name for p in TEMPLATES.glob("*.html"))
# Names that are the same in both languages, and each language's own name in the switch.
PROPER = {"DICOM", "PDF", "USD", "SLA", "KB", "English", "中文",
          "n", "live"}  # a sample's size in the analyst's tables; the live service's name
JINJA = re.compile(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", re.S)
SHOWN_ATTRIBUTE = re.compile(r'\b(?:alt|title|placeholder|aria-label)="([^"]*)"')


def shown_text(template: str) -> list[str]:
    """The words a template puts on the page by itself, outside every {{ }} and {% %}."""
    bare = JINJA.sub(" ", template)
    attributes = [a for a in SHOWN_ATTRIBUTE.findall(bare) if a.strip()]
    text = re.sub(r"<[^>]*>", " ", bare)
    text = re.sub(r"[\w-]+=\"[^\"]*\"", " ", text)  # an attribute a {% if %} cut from its tag
    words = re.findall(r"[A-Za-z\u4e00-\u9fff][\w\u4e00-\u9fff'-]*", text + " " + " ".join(attributes))
    return [w for w in words if w not in PROPER]


@pytest.mark.parametrize("name", EVERY_PAGE)
def test_a_page_has_no_untranslated_words(name):
    assert shown_text((TEMPLATES / name).read_text()) == []


def test_the_reviewers_pages_are_all_held():
    assert set(REVIEWER_PAGES) <= set(EVERY_PAGE)


def test_the_untranslated_word_check_finds_one():
    page = '<p title="Close">{{ t(\'x\') }} Accept</p>{% if a %}{{ t(\'y\') }}{% endif %}<i {% if b %}x="1"{% endif %}>'
    assert shown_text(page) == ["Accept", "Close"]


SERVICES = TEMPLATES.parents[1]
# Rejected("why", "code") and Rejected(..., code="code"): the refusals the services raise.
REJECTED = re.compile(r'Rejected\((?:[^()]|\([^()]*\))*?,\s*(?:code=)?"([a-z_]+)"')


def test_every_refusal_a_service_raises_is_in_both_languages():
    from services.console.i18n_problems import PROBLEMS

    raised = {c for p in SERVICES.glob("*/*.py") if "console" not in p.parts for c in REJECTED.findall(p.read_text())}
    assert len(raised) > 20, "the services' refusals were not found"
    assert raised - set(PROBLEMS) == set()
    assert {f"case_{s.value}" for s in Status} <= set(PROBLEMS)  # f"case_{state}" of an ended case
    for code, (en, zh) in PROBLEMS.items():
        assert en and re.search(r"[\u4e00-\u9fff]", zh), code


def test_a_refusal_is_shown_in_the_persons_language_beside_its_field():
    from services.console.backend import ApiError

    known = ApiError(409, "accept the case before delivering", code="not_accepted")
    assert known.shown("zh-CN") == {"_": "请先接受该病例。"}
    assert known.shown("en") == {"_": "Accept the case first."}
    named = ApiError(409, "the patient did not consent to it", field="centre_id", code="centre_not_consented")
    assert named.shown("zh-CN") == {"centre_id": "患者未同意向该中心传输资料。"}
    unknown = ApiError(422, "must be 5 to 8 pages", field="file", code="brand_new")
    assert unknown.shown("zh-CN", "file") == {"file": "must be 5 to 8 pages"}
    assert ApiError(500, "boom").shown("en", "body") == {"body": "boom"}
