"""The console reads no other service's database and runs none of their code: it only calls their APIs.

Its one store is its own sessions table in schema `console`; it imports no service's package (the
rules stay where they are) and no PostgreSQL driver but the pool its session store uses.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

CONSOLE = Path(__file__).resolve().parents[2] / "services" / "console"
SOURCES = sorted(CONSOLE.glob("*.py"))
# A table or schema named after a keyword of SQL that reads or writes one.
TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|TABLE|JOIN|ON|SCHEMA(?: IF NOT EXISTS)?)\s+([a-z_]+)(?:\.([a-z_]+))?")


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


STATEMENT = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE)\b")


def sql_of(path: Path) -> list[str]:
    return [n.value for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and STATEMENT.search(n.value)]


def test_the_console_imports_no_service_but_itself():
    for path in SOURCES:
        services = {m for m in imported(path) if m.startswith(("services.", "events"))}
        assert {m for m in services if not m.startswith("services.console")} == set(), path.name


def test_only_the_session_store_and_the_app_hold_a_database_driver():
    holders = {p.name for p in SOURCES if any(m.split(".")[0] in ("psycopg", "psycopg_pool") for m in imported(p))}
    assert holders <= {"sessions.py", "app.py"}


def test_every_statement_names_the_console_schema_only():
    statements = [s for p in SOURCES for s in sql_of(p)]
    assert statements, "the session store's SQL was not found"
    for sql in statements:
        for schema, table in TABLE.findall(sql):
            if table:
                assert schema == "console", sql
            elif schema not in ("console", "conflict"):  # ON CONFLICT; CREATE SCHEMA console
                raise AssertionError(f"a table outside schema console: {schema} in {sql}")


def test_the_schema_check_sees_another_services_table():
    assert TABLE.findall("SELECT * FROM intake.cases") == [("intake", "cases")]
