"""The exec pump: the Engine's multiplexed frames to stdout/stderr, stdin to the process, a terminal both ways."""

from __future__ import annotations

import os
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from ticketctl.runtime.exec import ExecSession, Streams, pump


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


class Pipes:
    """File descriptors for a session's stdin, stdout and stderr, read back after it ends."""

    def __init__(self) -> None:
        self.stdin_read, self.stdin_write = os.pipe()
        self.out_read, self.out_write = os.pipe()
        self.err_read, self.err_write = os.pipe()

    def streams(self, *, stdin: bool = True, tty: bool = False) -> Streams:
        return Streams(self.stdin_read if stdin else None, self.out_write, self.err_write, tty=tty)

    def output(self) -> tuple[bytes, bytes]:
        os.close(self.out_write)
        os.close(self.err_write)
        return _read_all(self.out_read), _read_all(self.err_read)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


@pytest.fixture
def engine() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    theirs.close()


def session(sock: socket.socket, *, tty: bool = False, code: int = 0) -> tuple[ExecSession, list[tuple[int, int]]]:
    sizes: list[tuple[int, int]] = []
    return ExecSession(
        sock, tty=tty, resize=lambda rows, cols: sizes.append((rows, cols)), exit_code=lambda: code
    ), sizes


def test_frames_go_to_stdout_and_stderr_and_the_exit_code_comes_back(
    engine: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = engine
    pipes = Pipes()
    # Frames split across sends, as the Engine's writes may arrive.
    data = frame(1, b"hello ") + frame(2, b"warning\n") + frame(1, b"world\n")
    theirs.sendall(data[:5])
    theirs.sendall(data[5:17])
    theirs.sendall(data[17:])
    theirs.shutdown(socket.SHUT_WR)
    exec_session, _ = session(ours, code=3)
    assert pump(exec_session, pipes.streams(stdin=False)) == 3
    assert pipes.output() == (b"hello world\n", b"warning\n")


def test_stdin_reaches_the_process_and_its_end_is_passed_on(engine: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = engine
    pipes = Pipes()
    received = []

    def process() -> None:  # echoes its whole input back once it has seen the end of it
        while chunk := theirs.recv(4096):
            received.append(chunk)
        theirs.sendall(frame(1, b"".join(received)))
        theirs.shutdown(socket.SHUT_WR)

    worker = threading.Thread(target=process)
    worker.start()
    os.write(pipes.stdin_write, b"SELECT 1;\n")
    os.close(pipes.stdin_write)
    exec_session, _ = session(ours)
    assert pump(exec_session, pipes.streams()) == 0
    worker.join(5)
    assert pipes.output() == (b"SELECT 1;\n", b"")


def test_a_terminal_session_passes_bytes_unframed_and_sets_the_size(
    engine: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = engine
    pipes = Pipes()
    theirs.sendall(b"\x1b[1mMariaDB> \x1b[0m")
    os.write(pipes.stdin_write, b"\x04")
    echoed = []

    def process() -> None:
        echoed.append(theirs.recv(16))
        theirs.sendall(b"Bye\r\n")
        theirs.shutdown(socket.SHUT_WR)

    worker = threading.Thread(target=process)
    worker.start()
    exec_session, sizes = session(ours, tty=True, code=0)
    assert pump(exec_session, pipes.streams(tty=True)) == 0
    worker.join(5)
    assert echoed == [b"\x04"]
    assert pipes.output() == (b"\x1b[1mMariaDB> \x1b[0mBye\r\n", b"")
    assert sizes == []  # stdout is a pipe here, not a terminal: no size to pass on


def test_an_exit_code_the_engine_does_not_tell_in_time_is_minus_one() -> None:
    ours, theirs = socket.socketpair()
    theirs.close()
    exec_session = ExecSession(ours, tty=False, resize=lambda rows, cols: None, exit_code=lambda: None)
    assert exec_session.wait(timeout=0.2) == -1
