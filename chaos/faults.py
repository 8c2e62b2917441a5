"""The faults a run injects, each against a real process of the embedded stack."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from chaos.cutoff import CutWatch
from infra import netns
from infra.stack import Stack


@dataclass(frozen=True)
class Fault:
    name: str
    # The event topic's partitions the fault needs (chaos gives its whole run the most any of its
    # rows needs: the count is chosen once per broker log).
    partitions: ClassVar[int] = 1

    def inject(self, stack: Stack) -> None:
        raise NotImplementedError

    def arrange(self, stack: Stack) -> Stack:
        """The stack the row runs on (the same, unless the fault needs other members)."""
        return stack

    def explain(self, stack: Stack, cases: list[Any]) -> tuple[list[str], bool]:
        """Lines printed under the row after quiescence, and whether they found nothing wrong."""
        return [], True

    def restore(self, stack: Stack) -> Stack:
        """The stack the next row runs on."""
        return stack


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


@dataclass(frozen=True)
class Cut(Fault):
    """A group's member cut off from the broker for `seconds`, then let through again: its
    connections to the brokers reset and every reconnect refused, PostgreSQL still reachable, as a
    host behind a failed switch port would be. The member runs in a network namespace of its own
    whose only way to the brokers is a forwarder that can cut (infra/netns.py); `watch` records
    its group and work around the cut (chaos/cutoff.py)."""

    seconds: float = 20.0
    watch: CutWatch = field(default_factory=CutWatch, compare=False)
    partitions: ClassVar[int] = 6

    def arrange(self, stack: Stack) -> Stack:
        return self.watch.arrange(stack)

    def inject(self, stack: Stack) -> None:
        directory = stack.run_dir / "netns" / self.watch.program
        self.watch.before(stack)
        netns.cut(directory)
        try:
            time.sleep(self.seconds)
        finally:
            netns.mend(directory)
            self.watch.after(stack)

    def explain(self, stack: Stack, cases: list[Any]) -> tuple[list[str], bool]:
        return self.watch.explain(stack, cases)

    def restore(self, stack: Stack) -> Stack:
        return self.watch.restore(stack)
