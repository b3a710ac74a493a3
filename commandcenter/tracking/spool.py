"""The tracking spool: every hit is on disk before its answer leaves, and becomes an Event soon.

One INSERT and commit per request caps SQLite near 1,100 hits/s. Instead each web process
appends its hits as JSON lines to its own spool file and answers once the line is synced
(fdatasync: the data and the file's new size, which is all a reader needs; measured here it
costs the same as fsync, ~170 us, and preallocated segments saved only ~50 us of it, not
worth readers that must tell zeros from lines); the threads of a process share each sync
(group commit), so the disk sees a few hundred syncs a second however many hits arrive.
`drain()` (the background drainer of each web process, `commandcenter track-drain`, or the
worker) turns the lines into Events in large transactions, and moves the file's cursor in
the same transaction: after a crash, exactly the lines not yet recorded are replayed.

A spool file is written for at most SEGMENT_SECONDS and then never again, so a file older
than that which has been read to its end can be deleted.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SUFFIX = ".spool"
SEGMENT_SECONDS = 300
SEGMENT_BYTES = 64 * 1024 * 1024


class SpoolWriter:
    """Appends lines to this process's current spool file; `append()` returns once durable."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()  # guards the file and the count of lines written
        self._synced = threading.Condition()  # guards the count of lines known durable
        self._fd: int | None = None
        self._opened_at = 0.0
        self._size = 0
        self._written = 0
        self._durable = 0
        self._syncing = False

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        with self._lock:
            self._rotate_if_due(len(line))
            assert self._fd is not None
            os.write(self._fd, line)
            self._size += len(line)
            self._written += 1
            mine = self._written
        self._wait_durable(mine)

    def close(self) -> None:
        with self._lock, self._synced:
            self._close_segment()

    def _wait_durable(self, line_number: int) -> None:
        """Group commit: one thread fsyncs for every line written so far; the others wait."""
        with self._synced:
            while self._durable < line_number:
                if self._syncing:
                    self._synced.wait()
                    continue
                self._syncing = True
                target, fd = self._written, self._fd
                self._synced.release()
                try:
                    if fd is not None:
                        os.fdatasync(fd)
                finally:
                    self._synced.acquire()
                    self._syncing = False
                self._durable = max(self._durable, target)
                self._synced.notify_all()

    def _rotate_if_due(self, incoming: int) -> None:
        now = time.time()
        if self._fd is not None and (
            now - self._opened_at < SEGMENT_SECONDS and self._size + incoming <= SEGMENT_BYTES
        ):
            return
        with self._synced:
            while self._syncing:
                self._synced.wait()
            self._close_segment()
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / segment_name(now)
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
            _fsync_directory(self.directory)  # the new file's name is durable too
            self._opened_at, self._size = now, 0

    def _close_segment(self) -> None:
        if self._fd is None:
            return
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = None
        self._durable = self._written
        self._synced.notify_all()


def segment_name(now: float) -> str:
    """Sortable by creation time; unique across hosts and processes sharing the directory."""
    host = socket.gethostname().replace(".", "_")[:40]
    return f"{int(now * 1000):015d}-{host}-{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"


def segment_created_at(name: str) -> float:
    try:
        return int(name.split("-", 1)[0]) / 1000
    except ValueError:
        return 0.0


_writers: dict[tuple[int, Path], SpoolWriter] = {}
_writers_lock = threading.Lock()


def writer_for(directory: Path) -> SpoolWriter:
    """This process's writer for the directory (a forked child gets its own file)."""
    key = (os.getpid(), directory)
    with _writers_lock:
        writer = _writers.get(key)
        if writer is None:
            writer = _writers[key] = SpoolWriter(directory)
        return writer


def segments(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.iterdir() if path.name.endswith(SUFFIX))


def read_lines(path: Path, offset: int, max_lines: int) -> tuple[list[bytes], int]:
    """Up to `max_lines` complete lines from `offset`, and the offset after the last one.

    A line still being written (no newline yet) is left for the next read.
    """
    lines: list[bytes] = []
    with path.open("rb") as spool:
        spool.seek(offset)
        for line in _complete_lines(spool):
            lines.append(line)
            offset += len(line)
            if len(lines) >= max_lines:
                break
    return lines, offset


def _complete_lines(spool: Any) -> Iterator[bytes]:
    for line in spool:
        if not line.endswith(b"\n"):
            return
        yield line


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
