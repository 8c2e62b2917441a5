"""The faults a run injects, each against a real process of the embedded stack."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from infra.stack import Stack


@dataclass(frozen=True)
class Fault:
    name: str

    def inject(self, stack: Stack) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Kill(Fault):
    """SIGKILL, as a crash or the OOM killer would; the supervisor starts the program again."""

    program: str = "broker"

    def inject(self, stack: Stack) -> None:
        pid = stack.kill(self.program, signal.SIGKILL)
        stack.wait_restarted(self.program, pid, timeout=60)


@dataclass(frozen=True)
class Outage(Fault):
    """SIGKILL, then kept down for `seconds` before it starts again: what runs on it must go on
    without it meanwhile (another broker of the stack, `--brokers 2`). `during` runs while it is
    down, and what it returns is kept in `seen`."""

    program: str = "broker"
    seconds: float = 20.0
    during: Callable[[Stack], object] | None = None
    seen: dict[str, object] = field(default_factory=dict, compare=False)

    def inject(self, stack: Stack) -> None:
        down_at = time.monotonic()
        stack.kill(self.program, signal.SIGKILL)
        # supervisord may have started it again already: stopped, it stays down until started.
        stack.stop(self.program)
        try:
            if self.during is not None:
                self.seen["during"] = self.during(stack)
            time.sleep(max(0.0, self.seconds - (time.monotonic() - down_at)))
            self.seen["down_s"] = time.monotonic() - down_at
        finally:
            stack.start(self.program)


@dataclass(frozen=True)
class Pause(Fault):
    """SIGSTOP for a while, then SIGCONT: a process that hangs (GC, swap, a stuck disk) and comes back."""

    program: str = "broker"
    seconds: float = 8.0

    def inject(self, stack: Stack) -> None:
        pid = stack.kill(self.program, signal.SIGSTOP)
        try:
            time.sleep(self.seconds)
        finally:
            os.kill(pid, signal.SIGCONT)


@dataclass(frozen=True)
class RestartPostgres(Fault):
    def inject(self, stack: Stack) -> None:
        stack.restart_postgres()


@dataclass(frozen=True)
class Nothing(Fault):
    """The control run: the same load with no fault."""

    def inject(self, stack: Stack) -> None:
        return None
