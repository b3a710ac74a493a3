"""The campaign fields of a filter, and acting on results through the API: a task for each
person, enrolment in a campaign, the threaded follow-up; bad input and tenancy."""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes
from typing import Any

import pytest
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.api.tests.conftest import Api
from commandcenter.campaigns.builder import stop
from commandcenter.campaigns.models import Campaign, Enrolment, Variant
from commandcenter.campaigns.tests.conftest import sink, three_steps  # noqa: F401 -- fixture
from commandcenter.delivery.sender import Sender
from commandcenter.delivery.testing import SmtpSink
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.people.services import set_do_not_contact
from commandcenter.search.models import SavedSearch
from commandcenter.search.tests.conftest import email_in, engaged
from commandcenter.tasks.models import Task

CLICKED = {"v": 1, "all": [{"field": "clicks", "op": "gte", "value": 1}]}
TOMORROW = (timezone.now() + dt.timedelta(days=1)).isoformat()
CALL = {"type": "call", "due_at": TOMORROW}


def campaign_email(owner: User, campaign: Campaign, to: str, **fields: Any) -> Email:
    step = campaign.steps.order_by("position").first()
    return engaged(owner, to, campaign=campaign, step=step, **fields)


def found(api: Api, user: User, document: object, **more: Any) -> Any:
    return api.post("/search", user, {"filter": document, **more})


def addresses(answer: Any) -> list[str]:
    assert answer.status_code == 200, answer.data
    return sorted(row["to"] for row in answer.data["results"])


def condition(field: str, value: object, op: str = "eq") -> dict[str, Any]:
    return {"all": [{"field": field, "op": op, "value": value}]}


# -- campaign, step and variant in the filter ------------------------------------------------


@pytest.fixture
def q1(alice: User) -> Campaign:
    return three_steps(alice)


def test_campaign_step_and_variant_find_the_campaigns_emails(api, alice, q1):
    other = three_steps(alice, name="Q2")
    first = q1.steps.order_by("position").first()
    variant = Variant.objects.create(step=first, index=0, subject="Version A")
    campaign_email(alice, q1, "in@a.example", variant=variant)
    campaign_email(alice, other, "q2@a.example")
    email_in(Status.DELIVERED, alice, to="single@a.example")
    assert addresses(found(api, alice, condition("campaign", q1.pk))) == ["in@a.example"]
    assert addresses(found(api, alice, condition("step", first.pk))) == ["in@a.example"]
    assert addresses(found(api, alice, condition("variant", variant.pk))) == ["in@a.example"]
    both = condition("campaign", [q1.pk, other.pk], op="in")
    assert addresses(found(api, alice, both)) == ["in@a.example", "q2@a.example"]
    # "Not in this campaign" keeps the emails of no campaign.
    outside = condition("campaign", q1.pk, op="ne")
    assert addresses(found(api, alice, outside)) == ["q2@a.example", "single@a.example"]


def test_an_unknown_campaign_is_a_400_naming_the_field(api, alice, q1):
    answer = found(api, alice, condition("campaign", 999_999))
    assert answer.status_code == 400
    assert "filter.all[0].value" in answer.data["errors"]
    assert "campaign" in answer.data["errors"]["filter.all[0].value"]
    answer = found(api, alice, condition("step", "first"))
    assert answer.status_code == 400 and "filter.all[0].value" in answer.data["errors"]


def test_another_reps_campaign_is_not_visible_in_a_filter(api, alice, bob, carol, q1):
    carols = three_steps(carol)
    bobs_own = three_steps(bob, name="Bob's own")
    bobs_shared = three_steps(bob, name="Bob's shared")
    Campaign.objects.filter(pk=bobs_shared.pk).update(shared_with_team=True)
    for hidden in (carols, bobs_own):
        answer = found(api, alice, condition("campaign", hidden.pk))
        assert answer.status_code == 400, hidden.name
        step = hidden.steps.get(position=0)
        assert found(api, alice, condition("step", step.pk)).status_code == 400
    # Shared with the team: alice may search for her own emails of it.
    campaign_email(alice, bobs_shared, "mine@a.example")
    campaign_email(bob, bobs_shared, "bobs@b.example")
    assert addresses(found(api, alice, condition("campaign", bobs_shared.pk))) == ["mine@a.example"]
    # A saved search cannot store a filter naming a campaign its owner may not see.
    answer = api.post(
        "/saved-searches", alice, {"name": "x", "filter": condition("campaign", carols.pk)}
    )
    assert answer.status_code == 400 and not SavedSearch.objects.exists()


def test_the_schema_and_the_results_carry_the_campaign_fields(api, alice, q1):
    schema = api.get("/search/schema", alice).data
    fields = {node["properties"]["field"]["const"] for node in schema["$defs"]["node"]["oneOf"][3:]}
    assert {"campaign", "step", "variant"} <= fields
    email = campaign_email(alice, q1, "in@a.example")
    row = found(api, alice, condition("campaign", q1.pk)).data["results"][0]
    assert (row["campaign"], row["step"]) == (q1.pk, email.step_id)


# -- tasks for each --------------------------------------------------------------------------


@pytest.fixture
def clickers(alice: User) -> list[Email]:
    """Three people who clicked, one of them twice (two emails), and one who did not."""
    emails = [
        engaged(alice, "one@a.example", opens=1, clicks=1),
        engaged(alice, "one@a.example", opens=1, clicks=2),
        engaged(alice, "two@b.example", opens=1, clicks=1),
        engaged(alice, "three@c.example", clicks=1),
    ]
    engaged(alice, "quiet@d.example", opens=1)
    return emails


def test_a_task_for_each_person_of_all_results(api, alice, clickers):
    answer = api.post("/search/tasks", alice, {"filter": CLICKED, "task": CALL})
    assert answer.status_code == 201, answer.data
    assert answer.data["made"] == 3 and answer.data["refused"] == []
    tasks = Task.objects.filter(owner=alice)
    assert sorted(tasks.values_list("person__email", flat=True)) == [
        "one@a.example",
        "three@c.example",
        "two@b.example",
    ]
    assert {t.type for t in tasks} == {"call"}
    assert all(t.title.startswith("Follow up: ") for t in tasks)
    assert {t["person"] for t in answer.data["tasks"]} == set(
        tasks.values_list("person__email", flat=True)
    )


def test_tasks_for_a_selection_only(api, alice, clickers):
    chosen = [clickers[2].pk, clickers[3].pk]
    body = {"filter": CLICKED, "ids": chosen, "task": {**CALL, "title": "Ring them"}}
    answer = api.post("/search/tasks", alice, body)
    assert answer.status_code == 201 and answer.data["made"] == 2
    assert set(Task.objects.values_list("title", flat=True)) == {"Ring them"}


def test_bad_task_input_makes_no_task(api, alice, clickers):
    for task in ({**CALL, "type": "fax"}, {**CALL, "due_at": "tomorrow"}, {"type": "call"}):
        answer = api.post("/search/tasks", alice, {"filter": CLICKED, "task": task})
        assert answer.status_code in (400, 422), task
    bad_filter = {"all": [{"field": "clicks", "op": "gte", "value": "many"}]}
    answer = api.post("/search/tasks", alice, {"filter": bad_filter, "task": CALL})
    assert answer.status_code == 400 and "filter.all[0].value" in answer.data["errors"]
    assert not Task.objects.exists()


def test_a_do_not_contact_person_gets_no_task_and_says_why(api, alice, clickers):
    set_do_not_contact(clickers[2].person, True, "asked us to stop")
    answer = api.post("/search/tasks", alice, {"filter": CLICKED, "task": CALL})
    assert answer.data["made"] == 2
    assert answer.data["refused"] == [{"address": "two@b.example", "reason": "Do not contact."}]


# -- tenancy ---------------------------------------------------------------------------------


def test_a_shared_search_acts_only_on_the_readers_own_people(api, alice, bob, admin, clickers):
    engaged(bob, "bobs@e.example", clicks=1)
    shared = SavedSearch.objects.create(owner=alice, name="Clickers", shared=True, filter=CLICKED)
    # Bob sees only his own emails of alice's shared search: one task, for his person.
    answer = api.post("/search/tasks", bob, {"saved": shared.pk, "task": CALL})
    assert answer.status_code == 201
    assert (answer.data["made"], answer.data["refused"]) == (1, [])
    assert list(Task.objects.values_list("owner__username", "person__email")) == [
        ("bob", "bobs@e.example")
    ]
    # The admin sees the team's emails in it, but acts only on her own people: each of the
    # others is refused, with why.
    answer = api.post("/search/tasks", admin, {"saved": shared.pk, "task": CALL})
    assert answer.data["made"] == 0
    assert {r["reason"] for r in answer.data["refused"]} == {"Not one of your people."}
    assert len(answer.data["refused"]) == 4
    # A team view is for looking.
    team = api.post(
        f"/search/tasks?as=team:{admin.team.name}", admin, {"filter": CLICKED, "task": CALL}
    )
    assert team.status_code == 403
    assert Task.objects.count() == 1


def test_another_teams_saved_search_is_not_found(api, alice, carol, clickers):
    shared = SavedSearch.objects.create(owner=alice, name="Clickers", shared=True, filter=CLICKED)
    answer = api.post("/search/tasks", carol, {"saved": shared.pk, "task": CALL})
    assert answer.status_code == 404 and not Task.objects.exists()
    # Carol's own search finds none of alice's emails, whatever ids she names.
    ids = [e.pk for e in clickers]
    answer = api.post("/search/tasks", carol, {"filter": CLICKED, "ids": ids, "task": CALL})
    assert answer.status_code == 201 and answer.data["made"] == 0


# -- enrolment -------------------------------------------------------------------------------


def test_enrol_all_results_in_a_campaign(api, alice, clickers, q1):
    set_do_not_contact(clickers[3].person, True, "")
    answer = api.post("/search/enrolments", alice, {"filter": CLICKED, "campaign": q1.pk})
    assert answer.status_code == 201, answer.data
    assert sorted(e["person"] for e in answer.data["enrolled"]) == [
        "one@a.example",
        "two@b.example",
    ]
    assert [r["address"] for r in answer.data["refused"]] == ["three@c.example"]
    again = api.post("/search/enrolments", alice, {"filter": CLICKED, "campaign": q1.pk})
    assert again.data["enrolled"] == []
    assert {r["reason"] for r in again.data["refused"]} >= {"Already in this campaign."}
    assert Enrolment.objects.filter(campaign=q1).count() == 2


def test_hundreds_enrol_in_one_request(api, alice, q1):
    for n in range(250):
        email_in(Status.DELIVERED, alice, to=f"p{n:03d}@many.example", opens=1)
    viewed = condition("opens", 1, op="gte")
    answer = api.post("/search/enrolments", alice, {"filter": viewed, "campaign": q1.pk})
    assert answer.status_code == 201 and len(answer.data["enrolled"]) == 250


def test_enrolling_into_a_campaign_one_may_not_use_is_refused(api, alice, bob, carol, clickers, q1):
    bobs_own = three_steps(bob, name="Bob's own")
    bobs_shared = three_steps(bob, name="Bob's shared")
    Campaign.objects.filter(pk=bobs_shared.pk).update(shared_with_team=True)
    for campaign_id in (three_steps(carol).pk, bobs_own.pk, 999_999, "1"):
        answer = api.post("/search/enrolments", alice, {"filter": CLICKED, "campaign": campaign_id})
        assert answer.status_code in (400, 422), campaign_id
        assert "campaign" in answer.data["errors"]
    assert not Enrolment.objects.exists()
    answer = api.post("/search/enrolments", alice, {"filter": CLICKED, "campaign": bobs_shared.pk})
    assert answer.status_code == 201 and len(answer.data["enrolled"]) == 3
    stop(q1)
    answer = api.post("/search/enrolments", alice, {"filter": CLICKED, "campaign": q1.pk})
    assert answer.status_code == 409


# -- the threaded follow-up ------------------------------------------------------------------


def sent(email: Email) -> Email:
    Email.objects.filter(pk=email.pk).update(message_id=f"<sent-{email.pk}@cc.example.net>")
    email.refresh_from_db()
    return email


def test_the_follow_up_preview_answers_the_email_each_person_engaged_with(api, alice, clickers):
    for email in clickers:
        sent(email)
    body = {"filter": CLICKED, "body_text": "Any questions?", "preview": True}
    answer = api.post("/search/follow-up", alice, body)
    assert answer.status_code == 200, answer.data
    copies = {copy["to"]: copy for copy in answer.data["copies"]}
    assert set(copies) == {"one@a.example", "two@b.example", "three@c.example"}
    # Person one has two matching emails: the follow-up answers the later one.
    assert copies["one@a.example"]["in_reply_to"] == clickers[1].message_id
    assert copies["one@a.example"]["subject"] == "Re: Quick question"
    assert copies["one@a.example"]["body_text"] == "Any questions?"
    assert not Email.objects.filter(reference_ids__gt="").exists()


def test_the_follow_up_goes_out_threaded(api, alice, clickers, sink: SmtpSink):  # noqa: F811
    answered = sent(clickers[2])
    Email.objects.filter(pk=answered.pk).update(reference_ids="<first@cc.example.net>")
    body = {"filter": CLICKED, "ids": [answered.pk], "body_text": "Following up."}
    answer = api.post("/search/follow-up", alice, body)
    assert answer.status_code == 201, answer.data
    (created,) = answer.data["emails"]
    assert created["subject"] == "Re: Quick question"
    assert Sender().drain() == 1
    message = message_from_bytes(sink.messages[-1].raw)
    assert message["In-Reply-To"] == answered.message_id
    assert message["References"].split() == ["<first@cc.example.net>", answered.message_id]
    assert message["Subject"] == "Re: Quick question"


def test_a_follow_up_of_someone_elses_people_sends_nothing(api, alice, admin, clickers):
    shared = SavedSearch.objects.create(owner=alice, name="Clickers", shared=True, filter=CLICKED)
    answer = api.post("/search/follow-up", admin, {"saved": shared.pk, "body_text": "Hi"})
    assert answer.status_code == 400 and "ids" in answer.data["errors"]
    too_many = {"filter": None, "body_text": "Hi", "subject": "Hello"}
    for n in range(201):
        email_in(Status.DELIVERED, alice, to=f"p{n:03d}@many.example")
    answer = api.post("/search/follow-up", alice, too_many)
    assert answer.status_code == 400 and "200" in answer.data["errors"]["ids"]
    assert Email.objects.filter(status=Status.SCHEDULED).count() == 0


def test_a_follow_up_cannot_thread_onto_another_reps_email(alice, bob):
    from commandcenter.outbox.compose import ComposeError, Content, Recipient, compose_bulk

    bobs = sent(email_in(Status.DELIVERED, bob, to="pat@prospect.example"))
    unsent = email_in(Status.SCHEDULED, alice, to="pat@prospect.example")
    for thread in (bobs, unsent):
        with pytest.raises(ComposeError) as refused:
            compose_bulk(
                alice,
                mode="select_and_send",
                recipients=[Recipient("pat@prospect.example", thread=thread)],
                content=Content("Hi", "Hello"),
            )
        assert "to[0]" in refused.value.errors
    assert Email.objects.count() == 2


def test_a_campaign_no_longer_shared_stops_one_search_not_the_live_lists(api, client, alice, bob):
    from commandcenter.search.models import FeedItem
    from commandcenter.tracking.hits import drain
    from commandcenter.tracking.tests.conftest import delivered_email
    from commandcenter.tracking.tests.test_endpoints import click_paths

    bobs = three_steps(bob, name="Bob's shared")
    Campaign.objects.filter(pk=bobs.pk).update(shared_with_team=True)
    in_campaign = api.post(
        "/saved-searches", alice, {"name": "Bob's", "filter": condition("campaign", bobs.pk)}
    ).data
    clicked = api.post("/saved-searches", alice, {"name": "Clicked", "filter": CLICKED}).data
    Campaign.objects.filter(pk=bobs.pk).update(shared_with_team=False)
    email = delivered_email(alice)
    client.get(click_paths(email)[0])
    assert drain() == 1
    assert FeedItem.objects.filter(search_id=clicked["id"], email=email, kind="joined").exists()
    listed = {row["id"]: row["count"] for row in api.get("/saved-searches", alice).data}
    assert listed == {in_campaign["id"]: 0, clicked["id"]: 1}
