"""The providers' configuration: the compose file's Keycloak and the embedded Canaille, from one directory."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from infra import directory, identity
from services.common.auth import principal_of

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "infra" / "docker-compose.yml"


def test_the_compose_file_is_valid_against_the_compose_specification():
    checker = Path(sys.executable).with_name("check-jsonschema")
    done = subprocess.run([str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_compose_schema_check_catches_a_misspelt_key(tmp_path: Path):
    bad = tmp_path / "compose.yml"
    bad.write_text(COMPOSE.read_text().replace("    restart: unless-stopped\n", "    restrat: unless-stopped\n", 1))
    checker = Path(sys.executable).with_name("check-jsonschema")
    done = subprocess.run([str(checker), "--builtin-schema", "vendor.compose-spec", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "restrat" in done.stdout


def test_the_keycloak_realm_file_is_rendered_from_the_directory():
    assert directory.REALM_FILE.read_text() == directory.render_realm(), "run `python -m infra.directory`"


def test_the_realm_has_the_same_users_groups_and_clients_as_the_embedded_provider():
    realm = json.loads(directory.REALM_FILE.read_text())
    assert {u["username"]: tuple(g.lstrip("/") for g in u["groups"]) for u in realm["users"]} == directory.users()
    assert [g["name"] for g in realm["groups"]] == directory.groups()
    clients = {c["clientId"]: c for c in realm["clients"]}
    assert set(clients) == {*directory.APIS, directory.CLI_CLIENT, directory.CONSOLE_CLIENT}
    assert clients["cli"]["publicClient"] and not clients["console"]["publicClient"]
    assert clients["console"]["redirectUris"] == [directory.console_redirect(8000)]
    mappers = realm["clientScopes"][0]["protocolMappers"]
    assert {m["config"].get("included.custom.audience") for m in mappers} - {None} == set(directory.APIS)
    # Nothing personal in the access token: no profile or email scope, groups by name.
    for name in ("cli", "console"):
        assert clients[name]["defaultClientScopes"] == ["basic", "case-ledger"]
    assert realm["accessTokenLifespan"] <= 900
    # Secrets are Keycloak placeholders, filled from its environment at import, never values.
    for user in realm["users"]:
        assert user["credentials"][0]["value"].startswith("${KC_PASSWORD_")
    assert clients["console"]["secret"] == "${CONSOLE_CLIENT_SECRET}"


def test_keycloak_gets_every_placeholder_of_its_realm_from_infra_env():
    text = directory.REALM_FILE.read_text()
    import re

    placeholders = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)\}", text))
    compose = COMPOSE.read_text()
    for name in placeholders:
        assert f"{name}: ${{{name}:?" in compose, name


def test_every_dev_user_has_one_role_the_apis_understand():
    for name, groups in directory.users().items():
        principal = principal_of({"sub": "8c1f1e0a-0000-4000-8000-000000000000", "groups": list(groups)})
        assert principal.role == groups[0].removeprefix("role:"), name


@pytest.fixture()
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("CASE_LEDGER_TOKEN_LIFETIME", "120")
    provider = identity.Provider(tmp_path, 58000, "postgresql://postgres@/postgres?host=/tmp/pg")
    path = provider.write_config()
    assert path.stat().st_mode & 0o077 == 0
    return tomllib.loads(path.read_text())


def test_canaille_gives_an_opaque_subject_and_no_personal_claims(config: dict[str, Any]):
    mapping = config["CANAILLE_OIDC"]["USERINFO_MAPPING"]
    assert mapping["SUB"] == "{{ user.id }}"
    for claim in ("NAME", "EMAIL", "GIVEN_NAME", "FAMILY_NAME", "PREFERRED_USERNAME", "PHONE_NUMBER", "ADDRESS"):
        assert mapping[claim] == "", claim
    assert config["CANAILLE_OIDC"]["DYNAMIC_CLIENT_REGISTRATION_OPEN"] is False
    assert [k["kty"] for k in config["CANAILLE_OIDC"]["ACTIVE_JWKS"]] == ["RSA"]


def test_canaille_keeps_its_data_in_our_postgresql_and_its_tokens_short(config: dict[str, Any]):
    uri = config["CANAILLE_SQL"]["DATABASE_URI"]
    assert uri.startswith("postgresql+psycopg://postgres@/postgres?host=/tmp/pg&options=")
    assert "search_path%3Didentity" in uri
    assert set(config["OAUTH2_TOKEN_EXPIRES_IN"].values()) == {120}
    assert config["SERVER_NAME"] == "127.0.0.1:58020"


def test_a_token_lifetime_over_fifteen_minutes_is_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CASE_LEDGER_TOKEN_LIFETIME", "901")
    with pytest.raises(SystemExit):
        identity.token_lifetime()


def test_the_stacks_database_url_becomes_sqlalchemys_confined_to_one_schema():
    assert identity.sqlalchemy_url("postgresql://u:p@db:5432/ledger", "identity") == \
        "postgresql+psycopg://u:p@db:5432/ledger?options=-csearch_path%3Didentity"
    with pytest.raises(SystemExit):
        identity.sqlalchemy_url("mysql://x/y")


def test_a_token_is_renewed_within_a_third_of_its_life_or_the_margin_of_its_end():
    import time

    from infra.signin import Token

    now = time.time()
    assert not Token("t", now + 50, 60, None).due(margin_s=60)  # 50 s left of 60: more than a third
    assert Token("t", now + 15, 60, None).due(margin_s=60)
    assert not Token("t", now + 120, 600, None).due(margin_s=60)
    assert Token("t", now + 59, 600, None).due(margin_s=60)
