"""Real worker processes: killed with SIGKILL mid-batch, and four of them side by side."""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import QuerySet

from commandcenter.accounts.models import User
from commandcenter.delivery.testing import SmtpSink, subprocess_env
from commandcenter.outbox.compose import Content, Recipient, compose_bulk
from commandcenter.outbox.models import Batch, Email
from commandcenter.outbox.states import Status

pytestmark = pytest.mark.django_db(transaction=True)

COMMANDCENTER = str(Path(sys.executable).parent / "commandcenter")


def group_send(user: User, count: int, *, prefix: str = "p") -> list[int]:
    ids: list[int] = []
    for start in range(0, count, 1000):
        recipients = [
            Recipient(f"{prefix}{n}@example.org") for n in range(start, min(count, start + 1000))
        ]
        _, emails = compose_bulk(
            user,
            mode=Batch.Mode.GROUP,
            recipients=recipients,
            content=Content("Hello {{first_name | there}}", "Hi {{first_name | there}}!"),
        )
        ids.extend(email.pk for email in emails)
    return ids


def wait_for(condition: Callable[[], bool], *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.005)


def handing_over() -> QuerySet[Email]:
    return Email.objects.filter(status=Status.IN_PROGRESS, handoff_started_at__isnull=False)


def children_of(pid: int) -> list[int]:
    """The live child processes of a process (its courier), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command's closing parenthesis: state, then the parent's pid.
        if fields[1] == str(pid) and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def statuses() -> collections.Counter[str]:
    return collections.Counter(Email.objects.values_list("status", flat=True))


@pytest.mark.parametrize("handoff_group", [1, 3])
def test_it_sends_nothing_twice_after_a_worker_is_killed_mid_batch(
    alice: User, handoff_group: int
) -> None:
    group_send(alice, 40)
    with SmtpSink(delay=0.05) as sink:
        env = subprocess_env(
            EMAIL_URL=f"{sink.url}?timeout=2",
            SEND_BATCH_SIZE=5,
            SEND_HANDOFF_GROUP=handoff_group,
            IN_PROGRESS_LEASE_SECONDS=2,
        )
        first = subprocess.Popen([COMMANDCENTER, "worker"], env=env, stdout=subprocess.DEVNULL)
        try:
            # Kill it mid-batch, while it hands an email over (the sink holds each 50 ms).
            wait_for(
                lambda: len(sink.messages) >= 7 and handing_over().exists(),
                seconds=30,
                what="the worker to be handing over its eighth email",
            )
            couriers = children_of(first.pid)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        # Its courier process (holding the SMTP connection) stops with it; the one of the
        # batch before may still be saying goodbye to the server.
        assert 1 <= len(couriers) <= 2
        wait_for(
            lambda: not any(alive(pid) for pid in couriers),
            seconds=30,
            what="the courier to stop",
        )
        # The group on the wire and the next one, already committed: at most two groups.
        in_flight = sorted(handing_over().values_list("to_address", flat=True))
        assert 1 <= len(in_flight) <= 2 * handoff_group
        assert statuses()[Status.IN_PROGRESS] > 1

        second = subprocess.Popen(
            [COMMANDCENTER, "worker"], env=env, stdout=subprocess.PIPE, text=True
        )
        try:
            wait_for(
                lambda: set(statuses()) <= {Status.DELIVERED, Status.FAILED},
                seconds=30,
                what="the restarted worker to drain",
            )
        finally:
            second.send_signal(signal.SIGTERM)
            output, _ = second.communicate(timeout=30)
        assert second.returncode == 0
        assert "stopped" in output
        received = list(sink.messages)

    counts = collections.Counter(message.message_id for message in received)
    assert [mid for mid, seen in counts.items() if seen > 1] == []
    recipients = collections.Counter(address for m in received for address in m.rcpt_tos)
    assert [address for address, seen in recipients.items() if seen > 1] == []
    emails = list(Email.objects.all())
    assert len(emails) == 40
    for email in emails:
        if email.status == Status.DELIVERED:
            assert email.message_id in counts
        else:
            assert email.status == Status.FAILED
            assert email.reason.startswith("delivery unknown")
    # Only those whose handoff was recorded at the kill are unknown; every other one went out.
    assert (
        sorted(Email.objects.filter(status=Status.FAILED).values_list("to_address", flat=True))
        == in_flight
    )
    assert statuses()[Status.DELIVERED] == 40 - len(in_flight)


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="four workers on 2,000 emails is the PostgreSQL scale-out check (SKIP LOCKED); "
    "on SQLite claims serialize and a 200-email run keeps the suite quick",
)
def test_it_sends_each_of_2000_emails_once_with_four_workers(alice: User) -> None:
    four_workers_send_each_once(alice, 2000)


@pytest.mark.skipif(
    connection.vendor == "postgresql", reason="on PostgreSQL the 2,000-email run covers it"
)
def test_it_sends_each_email_once_with_four_workers_on_sqlite(alice: User) -> None:
    four_workers_send_each_once(alice, 200)


def four_workers_send_each_once(user: User, count: int) -> None:
    ids = group_send(user, count)
    with SmtpSink() as sink:
        env = subprocess_env(EMAIL_URL=sink.url, SEND_BATCH_SIZE=25)
        workers = [
            subprocess.Popen(
                [COMMANDCENTER, "worker", "--once"], env=env, stdout=subprocess.DEVNULL
            )
            for _ in range(4)
        ]
        for worker in workers:
            assert worker.wait(timeout=120) == 0
        received = list(sink.messages)

    assert statuses() == {Status.DELIVERED: count}
    assert len(received) == count
    assert len({message.message_id for message in received}) == count
    assert sorted(address for message in received for address in message.rcpt_tos) == sorted(
        f"p{n}@example.org" for n in range(count)
    )
    stored = set(Email.objects.filter(pk__in=ids).values_list("message_id", flat=True))
    assert stored == {message.message_id for message in received}
    workers_used = set(Email.objects.values_list("events__data__worker", flat=True)) - {None}
    assert len(workers_used) >= 2
