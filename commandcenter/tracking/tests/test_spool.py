"""The spool: every answered hit is on disk, and becomes exactly one event."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from django.db import transaction
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from commandcenter.accounts.models import User
from commandcenter.delivery.testing import subprocess_env
from commandcenter.outbox.models import Email, Event
from commandcenter.tracking import spool
from commandcenter.tracking.hits import DRAIN_LOCK, drain
from commandcenter.tracking.models import SpoolCursor
from commandcenter.tracking.tests.conftest import delivered_email


def opens(email: Email) -> int:
    return Event.objects.filter(email=email, kind="opened").count()


def spooled_lines(directory: Path) -> list[bytes]:
    return [line for path in spool.segments(directory) for line in path.read_bytes().splitlines()]


def test_it_has_the_hit_on_disk_before_it_answers(
    client: Client, email: Email, private_spool: Path
) -> None:
    client.get(f"/t/o/{email.token}.gif")
    (line,) = spooled_lines(private_spool)
    assert json.loads(line)["email_token"] == email.token
    assert opens(email) == 0  # recorded later, by the drain


class Crash(Exception):
    pass


def test_it_replays_what_a_crash_in_the_middle_of_a_drain_left(
    client: Client, email: Email
) -> None:
    for _ in range(3):
        client.get(f"/t/o/{email.token}.gif")
    with pytest.raises(Crash), transaction.atomic():
        assert drain() == 3
        raise Crash  # the drainer dies before it commits: its events and cursor go together
    assert opens(email) == 0
    assert drain() == 3
    assert opens(email) == 3
    assert drain() == 0
    assert opens(email) == 3
    email.refresh_from_db()
    assert email.opens == 3


def test_it_leaves_a_line_still_being_written_for_the_next_drain(
    client: Client, email: Email, private_spool: Path
) -> None:
    client.get(f"/t/o/{email.token}.gif")
    (path,) = spool.segments(private_spool)
    complete = path.read_bytes()
    with path.open("ab") as torn:
        torn.write(complete[:40])
    assert drain() == 1
    assert SpoolCursor.objects.get(name=path.name).offset == len(complete)
    with path.open("ab") as rest:
        rest.write(complete[40:])
    assert drain() == 1
    assert opens(email) == 2


def test_it_keeps_every_line_whole_when_threads_append_at_once(private_spool: Path) -> None:
    writer = spool.SpoolWriter(private_spool)

    def append_many(thread: int) -> None:
        for n in range(200):
            writer.append({"thread": thread, "n": n, "pad": "x" * (n % 50)})

    threads = [threading.Thread(target=append_many, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    records = [json.loads(line) for line in spooled_lines(private_spool)]
    assert sorted((r["thread"], r["n"]) for r in records) == [
        (t, n) for t in range(8) for n in range(200)
    ]


def test_it_skips_a_line_it_cannot_read_and_carries_on(
    client: Client, email: Email, private_spool: Path
) -> None:
    client.get(f"/t/o/{email.token}.gif")
    (path,) = spool.segments(private_spool)
    with path.open("ab") as spooled:
        spooled.write(b"\x00\xffnot json\n")
        spooled.write(b'{"unexpected": "fields"}\n')
    client.get(f"/t/o/{email.token}.gif")
    assert drain() == 2 + 2  # lines read: two hits, two unreadable
    assert opens(email) == 2


def test_it_deletes_a_finished_segment_no_writer_will_touch_again(
    email: Email, private_spool: Path
) -> None:
    private_spool.mkdir(parents=True)
    old = private_spool / spool.segment_name(time.time() - 2 * spool.SEGMENT_SECONDS)
    current = private_spool / spool.segment_name(time.time())
    line = json.dumps(
        {
            "kind": "open",
            "at": time.time(),
            "method": "GET",
            "user_agent": "Thunderbird/128.0",
            "ip": "203.0.113.9",
            "referrer": "",
            "headers": {},
            "viewer": None,
            "email_token": email.token,
        }
    )
    old.write_text(line + "\n")
    current.write_text(line + "\n")
    assert drain() == 2
    assert not old.exists()
    assert current.exists()
    cursors = SpoolCursor.objects.exclude(name=DRAIN_LOCK).values_list("name", flat=True)
    assert list(cursors) == [current.name]
    assert opens(email) == 2


@pytest.mark.django_db(transaction=True)
def test_it_drains_in_the_background_of_the_web_process(
    settings: SettingsWrapper, alice: User
) -> None:
    settings.TRACKING_DRAIN_IN_WEB = True
    email = delivered_email(alice)
    Client(HTTP_USER_AGENT="Thunderbird/128.0").get(f"/t/o/{email.token}.gif")
    deadline = time.monotonic() + 10
    while opens(email) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert opens(email) == 1


def test_it_skips_a_line_of_the_wrong_shape_and_carries_on(
    client: Client, email: Email, private_spool: Path
) -> None:
    client.get(f"/t/o/{email.token}.gif")
    (path,) = spool.segments(private_spool)
    good = json.loads(path.read_bytes())
    with path.open("ab") as spooled:
        broken_fields: list[dict[str, object]] = [
            {"at": "yesterday"},
            {"kind": "purchase"},
            {"headers": []},
        ]
        for broken in broken_fields:
            spooled.write(json.dumps(good | broken).encode() + b"\n")
    client.get(f"/t/o/{email.token}.gif")
    assert drain() == 5
    assert opens(email) == 2


def test_it_reads_a_file_again_only_when_it_has_grown(
    client: Client,
    email: Email,
    private_spool: Path,
    django_capture_on_commit_callbacks: Callable[..., AbstractContextManager[object]],
) -> None:
    client.get(f"/t/o/{email.token}.gif")
    with django_capture_on_commit_callbacks(execute=True):
        assert drain() == 1
    (path,) = spool.segments(private_spool)
    SpoolCursor.objects.filter(name=path.name).update(offset=0)  # would replay if it looked
    assert drain() == 0
    client.get(f"/t/o/{email.token}.gif")
    assert drain() == 2


@pytest.mark.django_db(transaction=True)
def test_it_records_every_hit_once_when_the_drainer_is_killed_mid_way(
    settings: SettingsWrapper, alice: User, tmp_path: Path
) -> None:
    var = tmp_path / "var"
    settings.TRACKING_SPOOL_DIR = var / "spool" / "tracking"
    email = delivered_email(alice)
    writer = spool.SpoolWriter(settings.TRACKING_SPOOL_DIR)
    for n in range(2000):
        writer.append(spooled_open(email, n))
    writer.close()
    drainer = subprocess.Popen(
        [str(Path(sys.executable).parent / "commandcenter"), "track-drain", "--batch", "20"],
        env=subprocess_env(COMMANDCENTER_VAR=var, TRACKING_DRAIN_IN_WEB="false"),
    )
    try:
        while opens(email) == 0 and drainer.poll() is None:
            time.sleep(0.01)
    finally:
        drainer.kill()  # SIGKILL: no chance to finish its transaction
        drainer.wait()
    assert opens(email) < 2000
    drain()
    assert opens(email) == 2000
    email.refresh_from_db()
    assert email.opens == 2000


def spooled_open(email: Email, n: int) -> dict[str, object]:
    return {
        "kind": "open",
        "at": time.time() - 60 + n / 1000,
        "method": "GET",
        "user_agent": "Thunderbird/128.0",
        "ip": "203.0.113.9",
        "referrer": "",
        "headers": {"X-N": str(n)},
        "viewer": None,
        "email_token": email.token,
    }


def test_it_never_lets_one_hit_the_database_refuses_block_the_spool(
    email: Email, private_spool: Path
) -> None:
    writer = spool.SpoolWriter(private_spool)
    writer.append(spooled_open(email, 0))
    # Written past capture(), which never lets a NUL through: PostgreSQL refuses it.
    writer.append(spooled_open(email, 1) | {"user_agent": "nul\x00here"})
    writer.append(spooled_open(email, 2))
    writer.close()
    assert drain() == 3
    assert drain() == 0
    recorded = Event.objects.filter(email=email, kind="opened")
    assert {e.payload for e in recorded} >= {"X-N: 0\n", "X-N: 2\n"}


def test_it_stores_a_nul_in_a_header_as_a_visible_replacement(email: Email) -> None:
    Client(HTTP_USER_AGENT="Mozilla\x00/5.0 Chrome/131.0").get(f"/t/o/{email.token}.gif")
    drain()
    (opened,) = Event.objects.filter(email=email, kind="opened")
    assert opened.data["user_agent"] == "Mozilla\ufffd/5.0 Chrome/131.0"
