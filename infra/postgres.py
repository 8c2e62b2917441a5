"""The embedded PostgreSQL: pgserver's binaries, run in the foreground under supervisord.

pgserver's own server manager would start PostgreSQL detached, out of the supervisor's reach;
here we only borrow its binaries, and never import it (its import touches user directories).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import stat
import subprocess
from pathlib import Path
from typing import Any

import psycopg


def bin_dir() -> Path:
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        raise SystemExit("pgserver is not installed: run `make install`")
    return Path(spec.origin).parent / "pginstall" / "bin"


# PostgreSQL refuses to run as root; as root we run it as this system user, as pgserver does.
SYSTEM_USER = "pgserver"


def system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "-s", "/bin/false", SYSTEM_USER], check=True, capture_output=True)
    return SYSTEM_USER


def init(pgdata: Path) -> None:
    if (pgdata / "PG_VERSION").exists():
        return
    pgdata.mkdir(parents=True, exist_ok=True)
    user = system_user()
    if user:
        entry = pwd.getpwnam(user)
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)
        # The server's user must be able to reach its data directory through every parent.
        for parent in pgdata.parents:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                parent.chmod(mode | stat.S_IXOTH)
    # Trust over the Unix socket only: the server listens on no TCP port at all.
    # The user's own group too, and none of ours: a root group would match a parent directory's
    # group bits (often none) before its "other" bits are considered.
    as_user: dict[str, Any] = {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []} if user else {}
    result = subprocess.run([str(bin_dir() / "initdb"), "-D", str(pgdata), "-U", "postgres", "-A", "trust",
                             "-E", "UTF8", "--no-instructions"], capture_output=True, text=True, **as_user)
    if result.returncode != 0:
        raise SystemExit(f"initdb failed: {result.stderr.strip()}")


def argv(pgdata: Path) -> list[str]:
    return [str(bin_dir() / "postgres"), "-D", str(pgdata), "-k", str(pgdata), "-c", "listen_addresses=",
            "-c", "max_connections=300", "-c", "fsync=on"]


def url(pgdata: Path) -> str:
    return f"postgresql://postgres@/postgres?host={pgdata}"


def ready(database_url: str) -> bool:
    try:
        with psycopg.connect(database_url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def psql() -> Path:
    return bin_dir() / "psql"
