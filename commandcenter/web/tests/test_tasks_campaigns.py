"""The Tasks section, the person page and the campaign pages, through Django's test client."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.campaigns.engine import Engine
from commandcenter.campaigns.enrol import enrol
from commandcenter.campaigns.models import Campaign, Enrolment, SendingPolicy
from commandcenter.campaigns.tests.conftest import three_steps
from commandcenter.outbox.models import Email
from commandcenter.people.models import Person
from commandcenter.tasks import services
from commandcenter.tasks.models import Task
from commandcenter.web.tests.helpers import email_in
from commandcenter.web.tests.test_views import signed_in

pytestmark = pytest.mark.django_db


def task(user: User, **fields: object) -> Task:
    values = {
        "type": "call",
        "due_at": timezone.now() + dt.timedelta(minutes=5),
        "title": "Call Pat",
    }
    values.update(fields)
    return services.create_task(user, services.TaskFields(**values))  # type: ignore[arg-type]


def test_the_task_list_shows_counts_and_acts_on_a_selection(alice: User, bob: User) -> None:
    mine = [task(alice, title=f"Call {n}") for n in range(3)]
    task(bob, title="Bob's call")
    client = signed_in(alice)
    page = client.get(reverse("web:tasks")).content.decode()
    assert 'data-count="today">3<' in page
    assert "Bob&#x27;s call" not in page and "Bob's call" not in page
    answer = client.post(
        reverse("web:task_actions"), {"ids": [mine[0].pk, mine[1].pk], "action": "skip"}
    )
    assert answer.status_code == 302
    assert Task.objects.filter(status="skipped").count() == 2
    client.post(reverse("web:task_actions"), {"one": f"{mine[2].pk}:snooze-next_week"})
    assert Task.objects.get(pk=mine[2].pk).due_at > timezone.now() + dt.timedelta(days=1)
    # Bob's task is not Alice's to touch.
    bobs = Task.objects.get(assignee=bob)
    client.post(reverse("web:task_actions"), {"one": f"{bobs.pk}:complete"})
    assert Task.objects.get(pk=bobs.pk).status == "open"


def test_completing_an_email_task_opens_compose_and_sending_completes_it(alice: User) -> None:
    campaign = three_steps(alice, skip_weekends=False)
    campaign.steps.filter(position=0).update(type="manual_email")
    Person.objects.create(owner=alice, email="pat@x.example", first_name="Pat")
    enrol(alice, campaign, ["pat@x.example"])
    Enrolment.objects.update(next_at=timezone.now())
    Engine().run_once()
    email_task = Task.objects.get(type="email")
    client = signed_in(alice)
    answer = client.post(reverse("web:task_actions"), {"one": f"{email_task.pk}:complete"})
    assert answer["Location"] == f"{reverse('web:compose')}?task={email_task.pk}"
    form = client.get(answer["Location"]).content.decode()
    assert 'value="pat@x.example"' in form
    assert "Hello {{first_name}}" in form
    sent = client.post(
        answer["Location"],
        {
            "to": "pat@x.example",
            "subject": "Hello {{first_name}}",
            "body_text": "Hi Pat",
            "time_zone": "UTC",
            "intent": "send",
        },
    )
    assert sent.status_code == 302
    email_task.refresh_from_db()
    email = Email.objects.get(to_address="pat@x.example")
    assert (email_task.status, email_task.email_id) == ("completed", email.pk)
    assert (email.campaign_id, email.step_id) == (campaign.pk, email_task.step_id)


def test_start_tasks_walks_the_due_queue(alice: User) -> None:
    first = task(alice, title="First", due_at=timezone.now() - dt.timedelta(hours=1))
    task(alice, title="Second")
    client = signed_in(alice)
    page = client.get(reverse("web:task_flow")).content.decode()
    assert "First" in page and "2 tasks left today" in page
    page = client.get(reverse("web:task_flow") + f"?passed={first.pk}").content.decode()
    assert "Second" in page and "1 task left today" in page


def test_the_person_page_shows_everything_newest_first(alice: User, bob: User) -> None:
    email = email_in("delivered", alice, to="pat@x.example", subject="Our <b>offer</b>")
    task(alice, person="pat@x.example", title="Follow up")
    client = signed_in(alice)
    page = client.get(reverse("web:person", args=[email.person_id])).content.decode()
    assert "Our &lt;b&gt;offer&lt;/b&gt;" in page
    assert page.index("Follow up") < page.index("Our &lt;b&gt;offer")
    assert signed_in(bob).get(reverse("web:person", args=[email.person_id])).status_code == 404


def test_the_builder_shows_errors_by_step_and_creates_nothing(alice: User) -> None:
    client = signed_in(alice)
    answer = client.post(
        reverse("web:campaign_new"),
        {
            "name": "Bad",
            "rows": "2",
            "step-0-day": "0",
            "step-0-type": "call",
            "step-1-day": "1",
            "step-1-type": "auto_email",
            "step-1-subject": "Hi {{nope}}",
            "step-1-body_text": "x",
        },
    )
    page = answer.content.decode()
    assert answer.status_code == 200
    assert "A campaign day is a whole number from 1" in page
    assert "Unknown merge field {{nope}}" in page
    assert Campaign.objects.count() == 0
    created = client.post(
        reverse("web:campaign_new"),
        {"name": "Good", "rows": "1", "step-0-day": "1", "step-0-type": "call"},
    )
    assert created.status_code == 302
    assert Campaign.objects.get().steps.count() == 1


def test_enrolling_from_the_people_list_and_a_csv(alice: User, bob: User) -> None:
    campaign = three_steps(alice)
    people = [Person.objects.create(owner=alice, email=f"p{n}@x.example") for n in range(3)]
    bobs = Person.objects.create(owner=bob, email="bobs@x.example")
    client = signed_in(alice)
    assert "Add to campaign" in client.get(reverse("web:people")).content.decode()
    picked: dict[str, int | list[int]] = {
        "campaign": campaign.pk,
        "person": [people[0].pk, bobs.pk],
    }
    confirm = client.get(reverse("web:people_enrol"), picked).content.decode()
    assert "p0@x.example" in confirm and "bobs@x.example" not in confirm
    assert Enrolment.objects.count() == 0
    client.post(
        reverse("web:people_enrol"),
        {"campaign": campaign.pk, "person": [people[0].pk, people[1].pk, bobs.pk]},
    )
    assert set(Enrolment.objects.values_list("person__email", flat=True)) == {
        "p0@x.example", "p1@x.example"
    }  # fmt: skip
    upload = io.BytesIO(b"name,email\nZed,zed@x.example\nPee,p0@x.example\n")
    upload.name = "people.csv"
    answer = client.post(
        reverse("web:campaign_enrol", args=[campaign.pk]), {"file": upload}, follow=True
    )
    page = answer.content.decode()
    assert "Enrolled 1." in page
    assert "p0@x.example: Already in this campaign." in page
    detail = client.get(reverse("web:campaign", args=[campaign.pk])).content.decode()
    assert "<svg" in detail and 'data-stage="enrolled"' in detail
    assert signed_in(bob).get(reverse("web:campaign", args=[campaign.pk])).status_code == 404


def test_the_folders_name_the_campaign_and_step(alice: User) -> None:
    campaign = three_steps(alice)
    Person.objects.create(owner=alice, email="pat@x.example", first_name="Pat", company="Acme")
    enrol(alice, campaign, ["pat@x.example"])
    Enrolment.objects.update(next_at=timezone.now())
    Engine().run_once()
    page = signed_in(alice).get(reverse("web:folder", args=["scheduled"])).content.decode()
    assert "Q1 outreach · Day 1 · Automatic email" in page
    assert 'value="' in page and ":delete" not in page


def test_the_sending_settings_refuse_a_window_with_no_time(alice: User) -> None:
    client = signed_in(alice)
    answer = client.post(
        reverse("web:sending"),
        {"days": ["0", "1"], "start_time": "17:00", "end_time": "09:00", "daily_cap": "0"},
    )
    page = answer.content.decode()
    assert "would allow no time at all" in page
    assert SendingPolicy.objects.count() == 0
    client.post(reverse("web:sending"), {"days": ["0"], "start_time": "09:00", "end_time": "17:00",
                                         "daily_cap": "200"})  # fmt: skip
    assert SendingPolicy.objects.get().daily_cap == 200


def test_the_new_pages_speak_simplified_chinese(alice: User) -> None:
    alice.language = "zh-hans"
    alice.save()
    campaign = three_steps(alice)
    client = signed_in(alice)
    assert "开始处理任务" in client.get(reverse("web:tasks")).content.decode()
    page = client.get(reverse("web:campaign", args=[campaign.pk])).content.decode()
    assert "漏斗" in page and "第 3 天 · 电话" in page
    assert "发送时段与限额" in client.get(reverse("web:sending")).content.decode()
