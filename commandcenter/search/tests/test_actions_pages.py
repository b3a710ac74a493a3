"""Acting on results in the web UI: the campaign fields in the builder and the results, a
task for each person, enrolment in a campaign, the threaded follow-up, CSV columns."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client

from commandcenter.accounts.models import User
from commandcenter.campaigns.models import Campaign, Enrolment
from commandcenter.campaigns.tests.conftest import three_steps
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.people.services import set_do_not_contact
from commandcenter.search.tests.conftest import engaged, streamed
from commandcenter.search.tests.test_pages import signed_in
from commandcenter.search.views import search_url
from commandcenter.tasks.models import Task

CLICKED = json.dumps({"v": 1, "all": [{"field": "clicks", "op": "gte", "value": 1}]})


@pytest.fixture
def q1(alice: User) -> Campaign:
    return three_steps(alice)


@pytest.fixture
def clickers(alice: User, q1: Campaign) -> list[Email]:
    step = q1.steps.order_by("position").first()
    return [
        engaged(alice, f"p{n}@a.example", opens=1, clicks=1, campaign=q1, step=step)
        for n in range(3)
    ] + [engaged(alice, "p0@a.example", opens=1, clicks=1)]


def builder_config(html: str) -> dict:
    start = html.index('<script id="search-fields" type="application/json">') + 51
    return json.loads(html[start : html.index("</script>", start)])


def test_the_builder_offers_only_the_campaigns_one_may_see(client, alice, bob, carol, q1):
    bobs_shared = three_steps(bob, name="Bob's shared")
    Campaign.objects.filter(pk=bobs_shared.pk).update(shared_with_team=True)
    three_steps(bob, name="Bob's own")
    three_steps(carol, name="Carol's")
    html = signed_in(client, alice).get("/search/").content.decode()
    fields = builder_config(html)["fields"]
    assert sorted(name for _, name in fields["campaign"]["choices"]) == [
        "Bob's shared",
        "Q1 outreach",
    ]
    steps = [label for _, label in fields["step"]["choices"]]
    # Email steps only (a call makes no email); the label says which campaign and day.
    assert "Q1 outreach · Day 1 · Automatic email" in steps
    assert not any("Call" in label for label in steps)
    assert not any("Carol" in label or "Bob's own" in label for label in steps)


def test_the_results_show_the_campaign_and_step(client, alice, clickers):
    html = signed_in(client, alice).get(search_url(json.loads(CLICKED))).content.decode()
    assert html.count("Q1 outreach · Day 1 · Automatic email") == 3


def test_a_task_for_each_person_of_all_results(client, alice, clickers):
    signed_in(client, alice)
    body = {"f": CLICKED, "scope": "all", "task_type": "call", "task_due": "2031-05-02"}
    page = client.post("/search/tasks/", body)
    assert page.status_code == 200
    assert 'data-made="3"' in page.content.decode() and "3 tasks made." in page.content.decode()
    assert sorted(Task.objects.values_list("person__email", flat=True)) == [
        "p0@a.example",
        "p1@a.example",
        "p2@a.example",
    ]
    assert {t.due_at.date().isoformat() for t in Task.objects.all()} == {"2031-05-02"}


def test_tasks_for_the_ticked_rows_only_and_bad_input_makes_none(client, alice, clickers):
    signed_in(client, alice)
    bad = client.post("/search/tasks/", {"f": CLICKED, "scope": "all", "task_type": "fax"})
    assert bad.status_code == 302 and not Task.objects.exists()
    body = {"f": CLICKED, "ids": [clickers[1].pk], "task_type": "email", "task_due": "2031-05-02"}
    assert client.post("/search/tasks/", body).status_code == 200
    assert list(Task.objects.values_list("person__email", flat=True)) == ["p1@a.example"]


def test_enrol_shows_who_went_in_and_who_was_refused_and_why(client, alice, clickers, q1):
    other = three_steps(alice, name="Q2")
    set_do_not_contact(clickers[2].person, True, "asked us to stop")
    signed_in(client, alice)
    page = client.post("/search/enrol/", {"f": CLICKED, "scope": "all", "campaign": other.pk})
    html = page.content.decode()
    assert "Enrolled 2 people in Q2." in html
    assert 'data-refused="1"' in html and "p2@a.example" in html
    assert Enrolment.objects.filter(campaign=other).count() == 2


def test_enrol_into_a_campaign_one_may_not_use_is_refused(client, alice, carol, clickers):
    carols = three_steps(carol, name="Carol's")
    signed_in(client, alice)
    answer = client.post("/search/enrol/", {"f": CLICKED, "scope": "all", "campaign": carols.pk})
    assert answer.status_code == 302 and not Enrolment.objects.exists()
    follow = client.get(answer["Location"]).content.decode()
    assert "Choose a campaign of yours or of your team." in follow


def test_the_actions_need_a_csrf_token(alice, clickers, q1):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    for path in ("/search/tasks/", "/search/enrol/"):
        body = {"f": CLICKED, "scope": "all", "task_type": "call", "campaign": q1.pk}
        assert strict.post(path, body).status_code == 403
    assert not Task.objects.exists() and not Enrolment.objects.exists()


def sent(email: Email) -> Email:
    Email.objects.filter(pk=email.pk).update(message_id=f"<sent-{email.pk}@cc.example.net>")
    email.refresh_from_db()
    return email


def test_the_follow_up_answers_each_persons_email_in_its_thread(client, alice, clickers):
    # p0 has two sent emails among the results: the later one is answered.
    sent(clickers[0])
    later = sent(clickers[3])
    signed_in(client, alice)
    answer = client.post("/search/follow-up/", {"f": CLICKED, "scope": "all"})
    query = parse_qs(urlparse(answer["Location"]).query)
    assert query["thread"] == [str(later.pk)]
    assert len(query["person"]) == 2  # p1 and p2: their emails were never sent
    compose = client.get(answer["Location"]).content.decode()
    assert "data-threaded" in compose and "p0@a.example" in compose
    form = {
        "mode": "select_and_send",
        "to": "p0@a.example\np1@a.example",
        "thread": [str(later.pk)],
        "subject": "Checking in",
        "body_text": "Any questions?",
        "time_zone": "UTC",
    }
    preview = client.post("/compose/bulk/", {**form, "intent": "preview"}).content.decode()
    assert "In reply to “Quick question”" in preview
    assert "Re: Quick question" in preview and "Checking in" in preview
    sent_now = client.post("/compose/bulk/", {**form, "intent": "send"})
    assert sent_now.status_code == 302
    threaded = Email.objects.get(to_address="p0@a.example", status=Status.SCHEDULED)
    assert threaded.subject == "Re: Quick question"
    assert threaded.reference_ids == later.message_id
    plain = Email.objects.get(to_address="p1@a.example", status=Status.SCHEDULED)
    assert (plain.subject, plain.reference_ids) == ("Checking in", "")


def test_a_forged_thread_id_of_another_rep_is_ignored(client, alice, bob, clickers):
    bobs = sent(engaged(bob, "p0@a.example", clicks=1))
    signed_in(client, alice)
    page = client.get(f"/compose/bulk/?mode=select_and_send&thread={bobs.pk}").content.decode()
    assert "data-threaded" not in page and "p0@a.example" not in page


def test_the_csv_has_the_campaign_columns(client, alice, clickers):
    signed_in(client, alice)
    lines = streamed(client.post("/search/export.csv", {"f": CLICKED, "scope": "all"}))
    rows = lines.decode().splitlines()
    assert rows[0].endswith("campaign_id,campaign,step_id,step,variant")
    assert sum("Q1 outreach," in row for row in rows[1:]) == 3
