from pathlib import Path

import pytest
from pydantic import ValidationError

from events.db import load_queries
from services.analytics import ddl as analytics_ddl
from services.common.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
BASE = {"DATABASE_URL": "postgresql://x", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092"}


def settings(monkeypatch: pytest.MonkeyPatch, tokens: str) -> ServiceSettings:
    for k, v in {**BASE, "CASE_LEDGER_TOKENS": tokens}.items():
        monkeypatch.setenv(k, v)
    return ServiceSettings()


def test_tokens_map_to_roles(monkeypatch: pytest.MonkeyPatch):
    s = settings(monkeypatch, "a" * 20 + "=coordinator," + "b" * 20 + "=centre:sysucc")
    assert s.tokens == {"a" * 20: "coordinator", "b" * 20: "centre:sysucc"}


@pytest.mark.parametrize("tokens", ["", "short=coordinator", "x" * 20 + "=emperor", "x" * 20])
def test_bad_token_settings_stop_the_service_at_start(monkeypatch: pytest.MonkeyPatch, tokens: str):
    with pytest.raises(ValidationError):
        settings(monkeypatch, tokens)


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
