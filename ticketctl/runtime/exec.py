"""A process started in a container (``docker exec``), wired to this process's file descriptors.

The Engine hands back the exec's stream as a raw socket. With a TTY the socket
carries the terminal's bytes both ways unchanged; without one, the Engine
multiplexes stdout and stderr into frames (an 8-byte header: stream number,
three zero bytes, a big-endian length) and reading stdin ends when we shut
down our side. :func:`pump` moves the bytes; the caller decides what the file
descriptors are (a terminal in raw mode, pipes, files) and gets the process's
exit code back.

Nothing here knows the Docker SDK: :class:`ExecSession` gets the socket and
two callables (resize, exit code) from :class:`~ticketctl.runtime.docker.DockerRuntime`.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

CHUNK = 65536
FRAME_HEADER = struct.Struct(">BxxxL")
STDOUT, STDERR = 1, 2
# How long to wait, once the stream has ended, for the Engine to record the exit code.
EXIT_CODE_WAIT = 5.0
TERMINAL_SIZE_POLL = 0.25


@dataclass(frozen=True)
class Streams:
    """Where an exec's input comes from and its output goes: file descriptors of this process.

    ``stdin`` is None when the process gets no input. With ``tty`` the process
    runs on a terminal of its own whose size follows ``stdout``'s terminal.
    """

    stdin: int | None
    stdout: int
    stderr: int
    tty: bool = False


class ExecSession:
    """A started exec: its socket, and how to resize its terminal and read its exit code."""

    def __init__(
        self,
        sock: socket.socket,
        *,
        tty: bool,
        resize: Callable[[int, int], None],
        exit_code: Callable[[], int | None],
    ):
        self.sock = sock
        self.tty = tty
        self.resize = resize
        self._exit_code = exit_code

    def wait(self, timeout: float = EXIT_CODE_WAIT) -> int:
        """The exit code, once the Engine has it; -1 when it does not say in time."""
        deadline = time.monotonic() + timeout
        while True:
            code = self._exit_code()
            if code is not None:
                return code
            if time.monotonic() >= deadline:
                return -1
            time.sleep(0.05)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def pump(session: ExecSession, streams: Streams) -> int:
    """Copy ``streams.stdin`` to the process and its output to ``stdout``/``stderr`` until it ends; its exit code."""
    try:
        if session.tty:
            _pump_terminal(session, streams)
        else:
            _pump_frames(session, streams)
    finally:
        session.close()
    return session.wait()


def _pump_terminal(session: ExecSession, streams: Streams) -> None:
    """Both directions on one thread with select: keystrokes in, screen bytes out, the size kept in step."""
    sock = session.sock
    size = _terminal_size(streams.stdout)
    if size is not None:
        session.resize(*size)
    readers: list[int | socket.socket] = [sock] + ([streams.stdin] if streams.stdin is not None else [])
    while True:
        ready, _, _ = select.select(readers, [], [], TERMINAL_SIZE_POLL)
        if sock in ready:
            data = _receive(sock)
            if not data:
                return
            _write_all(streams.stdout, data)
        if streams.stdin is not None and streams.stdin in ready:
            data = os.read(streams.stdin, CHUNK)
            if not data:
                readers.remove(streams.stdin)
                _shutdown_write(sock)
            else:
                sock.sendall(data)
        current = _terminal_size(streams.stdout)
        if current is not None and current != size:
            size = current
            session.resize(*size)


def _pump_frames(session: ExecSession, streams: Streams) -> None:
    """Input on a thread of its own (it may block on a pipe); the framed output on this one."""
    sock = session.sock
    if streams.stdin is not None:
        feeder = threading.Thread(target=_feed, args=(streams.stdin, sock), name="exec-stdin", daemon=True)
        feeder.start()
    reader = _FrameReader(sock)
    while True:
        frame = reader.next_frame()
        if frame is None:
            return
        number, payload = frame
        _write_all(streams.stderr if number == STDERR else streams.stdout, payload)


def _feed(stdin: int, sock: socket.socket) -> None:
    """Copy stdin to the process; at its end shut our side so the process sees end of input."""
    try:
        while True:
            data = os.read(stdin, CHUNK)
            if not data:
                break
            sock.sendall(data)
    except OSError:
        return  # the process ended before reading all of it
    _shutdown_write(sock)


class _FrameReader:
    """Reads the Engine's multiplexed frames from a socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""

    def _fill(self, size: int) -> bool:
        while len(self.buffer) < size:
            data = _receive(self.sock)
            if not data:
                return False
            self.buffer += data
        return True

    def next_frame(self) -> tuple[int, bytes] | None:
        if not self._fill(FRAME_HEADER.size):
            return None
        number, length = FRAME_HEADER.unpack(self.buffer[: FRAME_HEADER.size])
        if not self._fill(FRAME_HEADER.size + length):
            return None
        payload = self.buffer[FRAME_HEADER.size : FRAME_HEADER.size + length]
        self.buffer = self.buffer[FRAME_HEADER.size + length :]
        return number, payload


def _receive(sock: socket.socket) -> bytes:
    try:
        return sock.recv(CHUNK)
    except (ConnectionResetError, BrokenPipeError):
        return b""


def _shutdown_write(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _terminal_size(fd: int) -> tuple[int, int] | None:
    """(rows, columns) of the terminal on ``fd``, None when it is not one."""
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return None
    return size.lines, size.columns
