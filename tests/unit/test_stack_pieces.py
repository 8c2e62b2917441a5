"""The embedded stack's pure pieces: supervisord's config, restart counting, the launcher, body checks."""

from __future__ import annotations

import configparser
import os
from pathlib import Path

from infra.launch import drop_dead_gauges, read_env
from infra.supervisor import Program, Supervisor
from services.common.body_limit import _undecodable


def test_every_program_is_supervised_with_autorestart_and_its_own_log(tmp_path: Path):
    sup = Supervisor(tmp_path)
    sup.write_config([Program("broker", ["/bin/tansu", "broker", "--storage-engine", "s3://b/"], tmp_path / "b.env"),
                      Program("postgres", ["/pg/postgres", "-D", "/x 100%"], None, stop_signal="INT", user="pg")],
                     ["python", "-m", "infra.launch"], tmp_path)
    conf = configparser.RawConfigParser()
    conf.read(sup.conf)
    broker = conf["program:broker"]
    assert broker["autorestart"] == "true" and broker["autostart"] == "false"
    assert broker["command"].startswith(f"python -m infra.launch {tmp_path / 'b.env'} -- /bin/tansu")
    assert broker["stdout_logfile"] == str(tmp_path / "logs" / "broker.log")
    pg = conf["program:postgres"]
    # supervisord expands %(...)s in values: a literal percent sign is doubled.
    assert pg["command"] == "/pg/postgres -D '/x 100%%'" and pg["stopsignal"] == "INT" and pg["user"] == "pg"


def test_restarts_count_the_starts_since_supervisord_last_started(tmp_path: Path):
    sup = Supervisor(tmp_path)
    sup.logs.mkdir()
    (sup.logs / "supervisord.log").write_text(
        "INFO supervisord started with pid 1\nINFO success: intake-api entered RUNNING state\n"
        "INFO success: intake-api entered RUNNING state\n"
        "INFO supervisord started with pid 2\nINFO success: intake-api entered RUNNING state\n"
        "INFO success: broker entered RUNNING state\nINFO success: broker entered RUNNING state\n"
        "INFO success: broker entered RUNNING state\n")
    assert sup.restarts() == {"intake-api": 0, "broker": 2}


def test_the_launcher_drops_gauges_of_dead_processes_and_keeps_counters(tmp_path: Path):
    dead = 2**22 + 12345  # above any pid this machine hands out
    for name in (f"gauge_max_{dead}.db", f"gauge_max_{os.getpid()}.db", f"counter_{dead}.db"):
        (tmp_path / name).write_bytes(b"")
    drop_dead_gauges(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"counter_{dead}.db", f"gauge_max_{os.getpid()}.db"])


def test_env_files_keep_values_with_equals_signs(tmp_path: Path):
    path = tmp_path / "x.env"
    path.write_text("# comment\nCASE_LEDGER_OIDC_ALGORITHMS=RS256,ES256=x\nEMPTY=\n")
    assert read_env(path) == {"CASE_LEDGER_OIDC_ALGORITHMS": "RS256,ES256=x", "EMPTY": ""}


def test_an_undecodable_json_body_is_named_for_what_is_wrong():
    assert _undecodable(b'{"a": 1}') is None
    assert "UTF-8" in (_undecodable(b"\xff{}") or "")
    assert "nested" in (_undecodable(b"[" * 100_000) or "")
    assert "not valid JSON" in (_undecodable(b'{"a": ') or "")


def test_a_new_broker_log_gets_one_partition_and_keeps_it(tmp_path: Path, monkeypatch):
    from infra.stack import Stack

    for var in ("CASE_LEDGER_TOPIC_PARTITIONS", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(var, raising=False)
    fresh = Stack(tmp_path / "fresh")
    assert fresh.topic_partitions() == 1
    (fresh.run_dir / "stack.env").write_text("")
    assert fresh.topic_partitions() == 1  # recorded with the log, not guessed again


def test_a_stack_that_ran_before_the_choice_was_recorded_keeps_its_six_partitions(tmp_path: Path, monkeypatch):
    from infra.stack import Stack

    for var in ("CASE_LEDGER_TOPIC_PARTITIONS", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(var, raising=False)
    old = Stack(tmp_path / "old")
    old.run_dir.mkdir()
    (old.run_dir / "stack.env").write_text("DATABASE_URL=x\n")
    assert old.topic_partitions() == 6
    monkeypatch.setenv("CASE_LEDGER_TOPIC_PARTITIONS", "3")
    assert old.topic_partitions() == 3  # an operator's setting wins


def test_review_reads_the_installed_calendar_once_there_is_one_and_an_operator_s_own_path_wins(
        tmp_path: Path, monkeypatch):
    from infra.stack import REVIEW_CALENDAR, Stack

    monkeypatch.delenv("REVIEW_CALENDAR_FILE", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://x")  # no embedded server is asked for its address
    stack = Stack(tmp_path / "run")
    assert "REVIEW_CALENDAR_FILE" not in stack.service_env("review")
    (stack.run_dir / REVIEW_CALENDAR).write_text("{}")
    assert stack.service_env("review")["REVIEW_CALENDAR_FILE"] == str(stack.run_dir / REVIEW_CALENDAR)
    assert "REVIEW_CALENDAR_FILE" not in stack.service_env("intake")
    monkeypatch.setenv("REVIEW_CALENDAR_FILE", "/etc/case-ledger/calendar.json")
    assert stack.service_env("review")["REVIEW_CALENDAR_FILE"] == "/etc/case-ledger/calendar.json"


def test_each_member_of_a_service_s_groups_has_its_own_stable_name_and_only_the_first_relays():
    from infra.stack.brokers import member_envs

    assert member_envs("billing", {"billing": 3}) == [
        ("billing-worker", {"CASE_LEDGER_CONSUMER_MEMBER": "1"}),
        ("billing-worker-2", {"CASE_LEDGER_WORKER_ONLY": "-relay,-timers", "CASE_LEDGER_CONSUMER_MEMBER": "2"}),
        ("billing-worker-3", {"CASE_LEDGER_WORKER_ONLY": "-relay,-timers", "CASE_LEDGER_CONSUMER_MEMBER": "3"})]
    assert member_envs("intake", {"billing": 3}) == [("intake-worker", {"CASE_LEDGER_CONSUMER_MEMBER": "1"})]
