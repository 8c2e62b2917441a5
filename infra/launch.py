"""Starts one program of the embedded stack with its environment file: `python -m infra.launch ENV -- ARGV`.

supervisord runs every program through this, so secrets stay in files of mode 0600 instead of
its config, and a restarted service first drops the gauge files its dead predecessor left.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path


def read_env(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def drop_dead_gauges(prom_dir: Path) -> None:
    # prometheus-client's multiprocess mode keeps one file per pid; a gauge of a SIGKILLed
    # process would otherwise be reported for ever (counters are kept: they are history).
    for f in prom_dir.glob("gauge_*_*.db"):
        match = re.search(r"_(\d+)\.db$", f.name)
        if match and not Path(f"/proc/{match.group(1)}").exists():
            f.unlink(missing_ok=True)


def main(argv: list[str]) -> None:
    env_file, sep, *command = argv
    if sep != "--" or not command:
        raise SystemExit("usage: python -m infra.launch ENV_FILE -- COMMAND...")
    env = {**os.environ, **read_env(Path(env_file))}
    if env.get("PROMETHEUS_MULTIPROC_DIR"):
        prom = Path(env["PROMETHEUS_MULTIPROC_DIR"])
        prom.mkdir(parents=True, exist_ok=True)
        drop_dead_gauges(prom)
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main(sys.argv[1:])
