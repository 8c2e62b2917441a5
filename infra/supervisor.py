"""The embedded stack's process supervisor: supervisord, configured and driven over its XML-RPC socket.

Every server and service runs as a supervisord program with autorestart: a killed process is
started again by supervisord, not by us. Programs are declared with autostart off and started
in dependency order by infra.stack, which waits for each to answer before starting the next.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport


@dataclass(frozen=True)
class Program:
    name: str
    argv: Sequence[str]
    env_file: Path | None = None
    stop_signal: str = "TERM"
    stop_wait_s: int = 15
    user: str | None = None
    directory: Path | None = None


class Supervisor:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.root = Path(__file__).resolve().parent.parent
        self.conf = run_dir / "supervisord.conf"
        self.socket = run_dir / "supervisor.sock"
        self.logs = run_dir / "logs"
        self.pidfile = run_dir / "supervisord.pid"

    # ------------------------------------------------------------------ lifecycle
    def write_config(self, programs: Sequence[Program], launcher: Sequence[str], directory: Path) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        user, password = self.credentials()
        lines = [
            # The socket is ours alone (0700); a password as well keeps supervisord from logging
            # CRIT "running without any HTTP authentication checking" at every start.
            "[unix_http_server]", f"file={self.socket}", "chmod=0700", f"username={user}", f"password={password}", "",
            "[supervisord]", f"logfile={self.logs / 'supervisord.log'}", f"pidfile={self.pidfile}",
            "logfile_maxbytes=10MB", "logfile_backups=2", "loglevel=info", f"directory={self.run_dir}",
            "minfds=4096",
            # Said as root, since it is: otherwise supervisord logs CRIT that it dropped no privileges.
            *(["user=root"] if os.geteuid() == 0 else []), "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
            "[supervisorctl]", f"serverurl=unix://{self.socket}", f"username={user}", f"password={password}", "",
        ]
        for p in programs:
            argv = [*launcher, str(p.env_file), "--", *p.argv] if p.env_file else list(p.argv)
            lines += [
                f"[program:{p.name}]",
                f"command={' '.join(_quote(a) for a in argv).replace('%', '%%')}",
                f"directory={p.directory or directory}",
                *([f"user={p.user}"] if p.user else []),
                # Started by infra.stack in dependency order; restarted by supervisord when it dies.
                "autostart=false", "autorestart=true", "startsecs=1", "startretries=100",
                f"stopsignal={p.stop_signal}", f"stopwaitsecs={p.stop_wait_s}",
                "stopasgroup=true", "killasgroup=true", "redirect_stderr=true",
                f"stdout_logfile={self.logs / (p.name + '.log')}", "stdout_logfile_maxbytes=20MB",
                "stdout_logfile_backups=1", "",
            ]
        self.conf.write_text("\n".join(lines) + "\n")

    def credentials(self) -> tuple[str, str]:
        """The XML-RPC socket's user and password, made once per run directory (mode 0600)."""
        path = self.run_dir / "supervisor.auth"
        if not path.exists():
            self.run_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(f"case-ledger:{secrets.token_hex(16)}\n")
            path.chmod(0o600)
        user, _, password = path.read_text().strip().partition(":")
        return user, password

    def running(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            self.rpc().getState()
            return True
        except (OSError, xmlrpc.client.Fault):
            return False

    def start_daemon(self, env: Mapping[str, str]) -> None:
        if self.running():
            added, changed, _removed = self.rpc().reloadConfig()[0]
            for name in added:
                self.rpc().addProcessGroup(name)
            for name in changed:
                # A program whose command changed is replaced: stopped, then started anew by up().
                with contextlib.suppress(xmlrpc.client.Fault):
                    self.rpc().stopProcessGroup(name)
                self.rpc().removeProcessGroup(name)
                self.rpc().addProcessGroup(name)
            return
        self.socket.unlink(missing_ok=True)
        # supervisord daemonizes itself; it inherits the environment the programs start with.
        subprocess.run([sys.executable, "-m", "supervisor.supervisord", "-c", str(self.conf)],
                       env=dict(env), check=True, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not self.running():
            if time.monotonic() > deadline:
                raise SystemExit(f"supervisord did not start; see {self.logs / 'supervisord.log'}")
            time.sleep(0.1)

    def shutdown(self, timeout: float = 60.0) -> None:
        if not self.running():
            self.socket.unlink(missing_ok=True)
            return
        pid = self.daemon_pid()
        with contextlib.suppress(OSError, xmlrpc.client.Fault):
            self.rpc().shutdown()
        deadline = time.monotonic() + timeout
        while pid and _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.socket.unlink(missing_ok=True)

    def daemon_pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    # ------------------------------------------------------------------ programs
    def rpc(self) -> Any:
        proxy = xmlrpc.client.ServerProxy(
            "http://127.0.0.1", transport=SupervisorTransport(*self.credentials(), f"unix://{self.socket}"))
        return proxy.supervisor

    def info(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self.rpc().getProcessInfo(name))
        except (OSError, xmlrpc.client.Fault):
            return None

    def all_info(self) -> list[dict[str, Any]]:
        try:
            return [dict(i) for i in self.rpc().getAllProcessInfo()]
        except (OSError, xmlrpc.client.Fault):
            return []

    def pid(self, name: str) -> int | None:
        info = self.info(name)
        if info and info["statename"] in ("RUNNING", "STARTING") and info["pid"]:
            return int(info["pid"])
        return None

    def state(self, name: str) -> str | None:
        info = self.info(name)
        return str(info["statename"]) if info else None

    def start(self, name: str, wait: bool = True) -> None:
        """Starts a program; with `wait`, returns once it has run for startsecs (1 s)."""
        try:
            self.rpc().startProcess(name, wait)
        except xmlrpc.client.Fault as fault:
            if "ALREADY_STARTED" not in fault.faultString:
                raise SystemExit(
                    f"{name} did not start ({fault.faultString}); see {self.logs / (name + '.log')}") from None

    def stop(self, *names: str, timeout: float = 60.0) -> None:
        """Stops these programs together and returns once every one has stopped."""
        for name in names:
            try:
                self.rpc().stopProcess(name, False)
            except xmlrpc.client.Fault as fault:
                if "NOT_RUNNING" not in fault.faultString and "BAD_NAME" not in fault.faultString:
                    raise
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = [(self.info(n) or {}).get("statename") for n in names]
            if all(s in (None, "STOPPED", "EXITED", "FATAL", "BACKOFF") for s in states):
                return
            time.sleep(0.1)

    def restarts(self) -> dict[str, int]:
        """Starts of each program beyond its first since supervisord started: the restarts it made."""
        counts: dict[str, int] = {}
        log = self.logs / "supervisord.log"
        if not log.exists():
            return counts
        since = log.read_text(errors="replace").rsplit("supervisord started with pid", 1)[-1]
        for match in re.finditer(r"success: (\S+) entered RUNNING state", since):
            counts[match.group(1)] = counts.get(match.group(1), 0) + 1
        return {name: n - 1 for name, n in counts.items()}


def _quote(arg: str) -> str:
    # supervisord splits its command line with shlex.
    return "'" + arg.replace("'", "'\"'\"'") + "'" if re.search(r"[\s'\"]", arg) else arg


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
