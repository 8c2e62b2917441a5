"""A program in a network namespace of its own, reaching only the TCP ports it is given, through
forwarders that can cut them: `make chaos`'s member cut off from the broker (chaos/cutoff.py).

    python -m infra.netns --dir D --port 19092 [--port ...] -- python -m services.billing.worker

This process stays outside and serves, per port, a Unix socket D/<port>.sock whose connections it
carries to 127.0.0.1:<port>. Its child, started with `unshare -n`, has only a loopback of its own
(no route out) and listens on 127.0.0.1:<port>, carrying each connection to that Unix socket: the
filesystem crosses namespaces, TCP does not. The ports inside equal those outside, so a broker's
advertised address still works in there. PostgreSQL is reached on its Unix socket as before.

Cut: while the file D/cut exists, the outside forwarder resets the connections of the ports it
names (all of them when it is empty) and closes each new one at once. The program sees its
connections drop and every reconnect fail at once, as behind a firewall that rejects; PostgreSQL
stays reachable. Remove the file and new connections go through again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import functools
import os
import signal
import socket
import struct
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
CUT_FILE = "cut"
_CHUNK = 64 * 1024
_WATCH_S = 0.05  # how often the outside forwarder looks at the cut file


def sock_path(directory: Path, port: int) -> Path:
    return directory / f"{port}.sock"


def cut_ports(text: str | None, ports: Iterable[int]) -> set[int]:
    """The ports cut, from the cut file's text: none without a file, every port when it names none."""
    ports = set(ports)
    if text is None:
        return set()
    named = {int(word) for word in text.replace(",", " ").split()}
    return ports & named if named else ports


def wrap(argv: Sequence[str], directory: Path, ports: Iterable[int]) -> list[str]:
    """The command that runs `argv` in a namespace of its own, reaching only `ports` (the stack's programs)."""
    return [sys.executable, "-m", "infra.netns", "--dir", str(directory),
            *(a for p in ports for a in ("--port", str(p))), "--", *argv]


def cut(directory: Path, ports: Iterable[int] = ()) -> None:
    """Cuts the given ports (all, when none is given) of the program whose forwarders live in `directory`."""
    (directory / CUT_FILE).write_text(" ".join(str(p) for p in ports) + "\n")


def mend(directory: Path) -> None:
    (directory / CUT_FILE).unlink(missing_ok=True)


class Relay:
    """Carries each accepted connection to one `connect` makes, both ways, until either side ends.

    With a `gate` (the outside forwarder's), a connection to a cut port is closed on arrival, and
    `watch` resets the open ones when their port is cut."""

    def __init__(self, connect: Callable[[int], Awaitable[Streams]],
                 gate: Callable[[], set[int]] = set) -> None:
        self.connect = connect
        self.gate = gate
        self.open: dict[int, set[asyncio.StreamWriter]] = {}
        self.refused = 0  # connections closed on arrival because their port was cut
        self.reset = 0  # open connections closed by a cut

    async def accept(self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if port in self.gate():
            self.refused += 1
            writer.transport.abort()
            return
        try:
            far_reader, far_writer = await self.connect(port)
        except OSError:
            writer.transport.abort()  # the far side does not answer: neither do we
            return
        mine = self.open.setdefault(port, set())
        mine |= {writer, far_writer}
        try:
            await asyncio.gather(_pump(reader, far_writer), _pump(far_reader, writer))
        finally:
            mine -= {writer, far_writer}

    def sever(self, ports: set[int]) -> None:
        """Resets every open connection of these ports (abort: no orderly close, as a cut link)."""
        for port in ports:
            for writer in list(self.open.get(port, ())):
                self.reset += 1
                writer.transport.abort()
            self.open.pop(port, None)

    async def watch(self) -> None:
        while True:
            self.sever(self.gate())
            await asyncio.sleep(_WATCH_S)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass  # the other direction sees it too and ends
    finally:
        writer.close()


def _loopback_up() -> None:
    """`ip link set lo up`, in the new namespace (its loopback starts down), without needing ip."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack("16sh", fcntl.ioctl(s, siocgifflags, struct.pack("16sh", b"lo", 0)))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


def unshare() -> list[str]:
    # As root, a plain network namespace: a user namespace as well (-r, what a user without root
    # needs) would lose access to PostgreSQL's socket directory, owned by its own system user.
    return ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-rn"]


async def _run_child(argv: Sequence[str]) -> int:
    """Runs the child, passing on a stop signal sent to us alone; returns its exit status."""
    child = await asyncio.create_subprocess_exec(*argv)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, functools.partial(_signal, child, sig))
    code = await child.wait()
    return code if code >= 0 else 128 - code


def _signal(child: asyncio.subprocess.Process, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        child.send_signal(sig)


async def outside(directory: Path, ports: list[int], argv: Sequence[str]) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    mend(directory)  # a cut left by a run that ended mid-cut does not outlive it

    def gate() -> set[int]:
        try:
            return cut_ports((directory / CUT_FILE).read_text(), ports)
        except FileNotFoundError:
            return set()

    relay = Relay(lambda port: asyncio.open_connection("127.0.0.1", port), gate)
    for port in ports:
        sock_path(directory, port).unlink(missing_ok=True)
        await asyncio.start_unix_server(functools.partial(relay.accept, port), path=str(sock_path(directory, port)))
    watching = asyncio.create_task(relay.watch())
    inner = [*unshare(), sys.executable, "-m", "infra.netns", "--inside", "--dir", str(directory),
             *(a for p in ports for a in ("--port", str(p))), "--", *argv]
    try:
        return await _run_child(inner)
    finally:
        watching.cancel()


async def inside(directory: Path, ports: list[int], argv: Sequence[str]) -> int:
    _loopback_up()
    relay = Relay(lambda port: asyncio.open_unix_connection(str(sock_path(directory, port))))
    for port in ports:
        await asyncio.start_server(functools.partial(relay.accept, port), "127.0.0.1", port)
    return await _run_child(argv)


def main(args: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.netns")
    parser.add_argument("--dir", type=Path, required=True, help="where the Unix sockets and the cut file live")
    parser.add_argument("--port", type=int, action="append", default=[], help="a TCP port the program may reach")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    ns = parser.parse_args(args)
    argv = ns.argv[1:] if ns.argv[:1] == ["--"] else ns.argv
    if not argv:
        parser.error("no program to run")
    run = inside if ns.inside else outside
    return asyncio.run(run(ns.dir.resolve(), ns.port, argv))


if __name__ == "__main__":
    raise SystemExit(main())
