import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.accounts.tests.commandline import run_script
from commandcenter.demo.synthetic import emails_per_user, generate
from commandcenter.outbox.models import Batch, Email, Event
from commandcenter.outbox.queries import folder_counts, folder_page
from commandcenter.outbox.states import FOLDERS, UNDELIVERED, Status, sort_date_field
from commandcenter.people.models import Person


def test_it_fills_every_folder_but_in_progress_for_the_demo_user(db):
    call_command("seed_demo", "--demo-user")

    demo = User.objects.get(username="demo")
    counts = folder_counts([demo.pk])
    assert counts.pop(Status.IN_PROGRESS) == 0
    assert all(counts.values()), counts
    assert demo.check_password("demo")
    assert demo.is_admin
    assert demo.viewable_users().count() >= 3  # teammates to view as
    assert set(Batch.objects.filter(owner=demo).values_list("mode", flat=True)) == {
        Batch.Mode.GROUP,
        Batch.Mode.SELECT_AND_SEND,
    }


def test_it_gives_the_demo_outbox_reasons_events_and_engagement(db):
    call_command("seed_demo", "--demo-user")

    demo = User.objects.get(username="demo")
    emails = Email.objects.filter(owner=demo)
    assert not emails.filter(status__in=UNDELIVERED, reason="").exists()
    reasons = " ".join(emails.filter(status=Status.FAILED).values_list("reason", flat=True))
    assert "User unknown" in reasons
    assert "{{industry}}" in reasons
    assert "unsubscribed" in reasons
    assert emails.filter(opens__gt=0, clicks__gt=0, replies__gt=0).exists()
    assert all(Event.objects.filter(email=email).exists() for email in emails)
    assert not emails.filter(status=Status.DELIVERED, message_id="").exists()


def test_it_schedules_demo_emails_in_the_future_with_at_most_two_due_soon(db):
    call_command("seed_demo", "--demo-user")

    scheduled = Email.objects.filter(status=Status.SCHEDULED)
    soon = timezone.now() + dt.timedelta(minutes=15)
    assert scheduled.filter(due_at__lte=timezone.now()).count() == 0
    assert scheduled.filter(due_at__lte=soon).count() <= 2


def test_it_seeds_the_demo_once(db, capsys):
    call_command("seed_demo", "--demo-user")
    emails, people, users = Email.objects.count(), Person.objects.count(), User.objects.count()

    call_command("seed_demo", "--demo-user")

    assert (Email.objects.count(), Person.objects.count(), User.objects.count()) == (
        emails,
        people,
        users,
    )
    assert "already there" in capsys.readouterr().out


def test_it_refuses_unclear_options(db):
    with pytest.raises(CommandError, match="either --demo-user or --emails"):
        call_command("seed_demo")
    with pytest.raises(CommandError, match="owner-share"):
        call_command("seed_demo", "--emails", "10", "--owner-share", "2")


def test_it_splits_emails_between_the_owner_and_the_rest():
    assert emails_per_user(1000, 4, 0.1) == [100, 300, 300, 300]
    assert emails_per_user(10, 3, 0.5) == [5, 3, 2]
    assert emails_per_user(7, 1, 0.1) == [7]


def test_the_generator_writes_rows_the_app_can_read(db):
    result = generate(3000, users=3, owner_share=0.5, seed=7)

    rep = result.users[0]
    counts = folder_counts([rep.pk])
    assert sum(counts.values()) == 1500
    assert counts[Status.DELIVERED] > counts[Status.FAILED] > 0
    assert counts[Status.IN_PROGRESS] == 0
    for folder in FOLDERS:
        page = folder_page([rep.pk], folder, limit=20)
        ordered = sorted(page.emails, key=lambda e: (e.sort_at, e.pk), reverse=True)
        assert page.emails == ordered
        if counts[folder] > 20:
            next_page = folder_page([rep.pk], folder, cursor=page.next_cursor, limit=20)
            assert next_page.emails[0].sort_at <= page.emails[-1].sort_at


def test_the_generator_keeps_sort_dates_and_people_consistent(db):
    generate(300, users=2, seed=3)

    for email in Email.objects.select_related("person"):
        stamp = sort_date_field(email.status)
        if stamp:
            assert email.sort_at == getattr(email, stamp), email.status
        if email.status == Status.SCHEDULED:
            assert email.sort_at == email.due_at == email.send_at
        if email.status == Status.DRAFT:
            assert email.send_at is None
        if email.status in UNDELIVERED:
            assert email.reason
        assert email.to_address == email.person.email
        assert email.owner_id == email.person.owner_id
        email.full_clean()
    assert Event.objects.count() > 0
    assert Email.objects.values("token").distinct().count() == 300


def test_the_generator_leaves_ids_usable_for_the_app(db, alice):
    generate(500, users=1, seed=1)

    generated = set(Person.objects.values_list("pk", flat=True))
    person = Person.objects.create(owner=alice, email="after@x.example")
    assert person.pk > max(generated)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM outbox_email")
        assert cursor.fetchone()[0] == 500


def test_the_console_script_seeds_and_reports_its_rate(transactional_db):
    result = run_script("seed-demo", "--emails", "2000", "--users", "2")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("emails/s")
    assert "2,000 of 2,000 emails" in result.stderr
    assert Email.objects.count() == 2000


def test_it_writes_each_emails_history_consistent_with_its_counters(db):
    from collections import Counter

    from django.db.models import F

    from commandcenter.search.models import Engagement

    result = generate(2000, users=2, seed=5, events_per_email=10)
    assert 15_000 <= result.events <= 25_000
    assert Event.objects.count() == result.events
    from_events = Counter(
        Event.objects.filter(kind__in=["opened", "clicked"], data__machine=False).values_list(
            "email_id", "kind"
        )
    )
    from_events.update(Event.objects.filter(kind="replied").values_list("email_id", "kind"))
    for pk, opens, clicks, replies in Email.objects.values_list("pk", "opens", "clicks", "replies"):
        counted = [from_events[(pk, kind)] for kind in ("opened", "clicked", "replied")]
        assert counted == [opens, clicks, replies]
    machine = Event.objects.filter(kind="opened", data__machine=True)
    assert machine.exists()
    # The search app's engagement rows follow the events (triggers, or the rebuild).
    first = machine.first()
    assert first is not None
    some = first.email
    assert (
        Engagement.objects.get(email=some).opens_all
        == some.opens + machine.filter(email=some).count()
    )
    assert not Event.objects.filter(kind="opened", created_at__lt=F("email__sent_at")).exists()
