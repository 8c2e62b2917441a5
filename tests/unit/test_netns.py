"""The forwarders of a program cut off from the broker (infra/netns.py): which ports a cut file
names, and that the outside relay carries bytes, resets its open connections at a cut, refuses new
ones while cut and lets them through again after. Real sockets on loopback, no namespace (that
needs `unshare`, which `make chaos` uses)."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

import pytest

from infra import netns


def test_no_cut_file_cuts_nothing_an_empty_one_everything_and_a_list_only_those():
    assert netns.cut_ports(None, [1, 2]) == set()
    assert netns.cut_ports("\n", [1, 2]) == {1, 2}
    assert netns.cut_ports("2\n", [1, 2]) == {2}
    assert netns.cut_ports("2, 7", [1, 2]) == {2}  # a port it does not forward is no port of its


def test_the_wrapped_command_names_every_port_and_the_program_after_the_separator(tmp_path: Path):
    argv = netns.wrap(["python", "-m", "w"], tmp_path, [19092, 19093])
    assert argv[argv.index("--") + 1:] == ["python", "-m", "w"]
    assert argv.count("--port") == 2 and "19093" in argv


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


async def _read(reader: asyncio.StreamReader) -> bytes:
    """What arrives within 2 s; b"" for a connection closed or reset (a cut aborts: a reset)."""
    try:
        return await asyncio.wait_for(reader.read(1024), 2)
    except ConnectionResetError:
        return b""


async def _round_trip(path: Path, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_unix_connection(str(path))
    try:
        writer.write(payload)
        await writer.drain()
        return await _read(reader)
    except ConnectionResetError:
        return b""
    finally:
        writer.close()


async def _scenario(tmp_path: Path) -> None:
    echo = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = echo.sockets[0].getsockname()[1]

    def gate() -> set[int]:
        path = tmp_path / netns.CUT_FILE
        return netns.cut_ports(path.read_text() if path.exists() else None, [port])

    relay = netns.Relay(lambda p: asyncio.open_connection("127.0.0.1", p), gate)
    path = netns.sock_path(tmp_path, port)
    server = await asyncio.start_unix_server(functools.partial(relay.accept, port), path=str(path))
    watching = asyncio.create_task(relay.watch())
    try:
        assert await _round_trip(path, b"before") == b"before"
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(b"held")
        assert await _read(reader) == b"held"
        netns.cut(tmp_path)
        # The open connection is reset, and a new one is closed without a byte carried.
        assert await _read(reader) == b""
        assert relay.reset >= 1
        assert await _round_trip(path, b"during") == b""
        assert relay.refused == 1
        netns.mend(tmp_path)
        assert await _round_trip(path, b"after") == b"after"
        writer.close()
    finally:
        watching.cancel()
        server.close()
        echo.close()


def test_a_cut_resets_open_connections_refuses_new_ones_and_mending_lets_them_through(tmp_path: Path):
    asyncio.run(_scenario(tmp_path))


def test_a_program_must_be_named():
    with pytest.raises(SystemExit):
        netns.main(["--dir", "/tmp/x", "--port", "1"])
