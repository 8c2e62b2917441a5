from pathlib import Path

import pytest
from pydantic import ValidationError

from events.db import load_queries
from services.analytics import ddl as analytics_ddl
from services.common.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
BASE = {"DATABASE_URL": "postgresql://x", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092"}


def settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> ServiceSettings:
    # The integration suite's stack settings (a shorter skew) may be in this process's environment.
    for k in ("CASE_LEDGER_OIDC_LEEWAY", "CASE_LEDGER_OIDC_ALGORITHMS", "CASE_LEDGER_OIDC_AUDIENCE", "CASE_LEDGER_ENV"):
        monkeypatch.delenv(k, raising=False)
    for k, v in {**BASE, "CASE_LEDGER_OIDC_ISSUER": "http://127.0.0.1:8020", **env}.items():
        monkeypatch.setenv(k, v)
    return ServiceSettings()


def test_tokens_are_checked_against_the_issuer_with_asymmetric_algorithms_and_little_skew(
        monkeypatch: pytest.MonkeyPatch):
    s = settings(monkeypatch)
    assert (s.oidc_issuer, s.oidc_algorithms, s.oidc_leeway_s, s.oidc_audience) == \
        ("http://127.0.0.1:8020", ["RS256"], 30, None)
    assert settings(monkeypatch, CASE_LEDGER_OIDC_ALGORITHMS="RS256, ES256").oidc_algorithms == ["RS256", "ES256"]


@pytest.mark.parametrize("env", [
    {"CASE_LEDGER_OIDC_ISSUER": ""}, {"CASE_LEDGER_OIDC_ISSUER": "not a url"},
    {"CASE_LEDGER_OIDC_ALGORITHMS": "HS256"}, {"CASE_LEDGER_OIDC_ALGORITHMS": "RS256,none"},
    {"CASE_LEDGER_OIDC_ALGORITHMS": ""}, {"CASE_LEDGER_OIDC_LEEWAY": "31"},
    {"CASE_LEDGER_ENV": "production"},  # a plain-HTTP issuer
])
def test_bad_token_settings_stop_the_service_at_start(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]):
    with pytest.raises(ValidationError):
        settings(monkeypatch, **env)


def test_production_takes_an_https_issuer(monkeypatch: pytest.MonkeyPatch):
    s = settings(monkeypatch, CASE_LEDGER_ENV="production",
                 CASE_LEDGER_OIDC_ISSUER="https://login.example.org/realms/case-ledger")
    assert s.oidc_issuer.startswith("https://")


def test_every_sql_file_parses_into_named_blocks():
    # Migrations and the analytics views are scripts run whole, not named blocks.
    files = [p for p in ROOT.glob("**/*.sql") if ".venv" not in p.parts and "migrations" not in p.parts
             and p != analytics_ddl.VIEWS]
    assert files
    for path in files:
        queries = load_queries(path)
        assert queries, path
        assert all(body for body in queries.values()), path
        # psycopg sees a placeholder in a comment too: a block would then ask for a parameter
        # its callers never pass (the analytics timeline once failed on a comment's rows).
        for name, body in queries.items():
            commented = [line for line in body.splitlines() if line.lstrip().startswith("--") and "%(" in line]
            assert not commented, (path, name, commented)


def test_a_member_s_group_instance_id_is_its_group_and_its_stable_name(monkeypatch: pytest.MonkeyPatch):
    from services.common.runtime import instance_id

    s = settings(monkeypatch, CASE_LEDGER_CONSUMER_MEMBER="2", CASE_LEDGER_CONSUMER_STATIC="true")
    assert (s.consumer_member, s.consumer_static, s.consumer_cooperative) == ("2", True, False)
    assert instance_id("billing.billing", s.consumer_member) == "billing.billing.2"
    assert instance_id("analytics.timeline", s.consumer_member) == "analytics.timeline.2"
    assert instance_id("billing.billing", None) is None  # dynamic membership
    with pytest.raises(ValidationError):
        settings(monkeypatch, CASE_LEDGER_CONSUMER_MEMBER="two members")
