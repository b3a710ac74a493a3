"""The campaigns API: create, enrol hundreds with refusals, people and next steps, remove,
statistics, pause and resume, editing a running campaign; bad input changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from commandcenter.accounts.models import User
from commandcenter.api.tests.conftest import Api
from commandcenter.campaigns.engine import Engine
from commandcenter.campaigns.models import Campaign, Enrolment, Step
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person, Suppression

THREE_STEPS: dict[str, Any] = {
    "name": "Q1 outreach",
    "skip_weekends": True,
    "steps": [
        {"day": 1, "type": "auto_email", "time": "09:00", "subject": "Hi {{first_name}}",
         "body_text": "Hello {{first_name}} at {{company}}"},
        {"day": 3, "type": "call", "time": "10:00", "notes": "pilot?"},
        {"day": 5, "type": "auto_email", "thread": True, "body_text": "Following up"},
    ],
}  # fmt: skip


def create(api: Api, user: User, body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = api.post("/campaigns", user, body or THREE_STEPS)
    assert answer.status_code == 201, answer.data
    return answer.data


def rows() -> tuple[int, int, int]:
    return Campaign.objects.count(), Step.objects.count(), Enrolment.objects.count()


def test_it_creates_enrols_and_reports(api: Api, alice: User) -> None:
    campaign = create(api, alice)
    assert [s["type"] for s in campaign["steps"]] == ["auto_email", "call", "auto_email"]
    assert campaign["steps"][0]["time"] == "09:00"
    Person.objects.create(owner=alice, email="dnc@x.example", do_not_contact=True)
    Suppression.objects.create(value="blocked.example", kind="domain", reason="asked us")
    people = [f"p{n}@x.example" for n in range(300)] + ["dnc@x.example", "a@blocked.example"]
    answer = api.post(f"/campaigns/{campaign['id']}/enrolments", alice, {"people": people})
    assert answer.status_code == 201, answer.data
    assert len(answer.data["enrolled"]) == 300
    assert {r["address"] for r in answer.data["refused"]} == {"dnc@x.example", "a@blocked.example"}
    assert all(r["reason"] for r in answer.data["refused"])
    first = answer.data["enrolled"][0]
    assert (first["state"], first["next_step"]) == ("active", campaign["steps"][0]["id"])
    assert first["next_at"].endswith("Z")
    again = api.post(f"/campaigns/{campaign['id']}/enrolments", alice, {"people": ["p1@x.example"]})
    assert again.data["refused"] == [
        {"address": "p1@x.example", "reason": "Already in this campaign."}
    ]
    listed = api.get(f"/campaigns/{campaign['id']}/enrolments", alice).data
    assert len(listed) == 300
    stats = api.get(f"/campaigns/{campaign['id']}/stats", alice).data
    assert (stats["enrolled"], stats["active"], stats["is_finished"]) == (300, 300, False)


def test_removing_a_person_takes_their_scheduled_email_out(api: Api, alice: User) -> None:
    campaign = create(api, alice, {"name": "now", "steps": [
        {"day": 1, "type": "auto_email", "subject": "Hi", "body_text": "Hello"},
        {"day": 2, "type": "call"},
    ]})  # fmt: skip
    api.post(f"/campaigns/{campaign['id']}/enrolments", alice, {"people": ["pat@x.example"]})
    Engine().run_once()
    email = Email.objects.get(campaign_id=campaign["id"])
    assert email.status == Status.SCHEDULED
    # Campaign emails cannot be deleted: removing the person is the way.
    refused = api.delete(f"/emails/{email.pk}", alice)
    assert refused.status_code == 409
    assert "remove the person from the campaign" in refused.data["detail"]
    assert "delete" not in api.get(f"/emails/{email.pk}", alice).data["actions"]
    assert api.get(f"/emails/{email.pk}", alice).data["campaign"] == campaign["id"]
    gone = api.delete(f"/campaigns/{campaign['id']}/enrolments/Pat@X.example", alice)
    assert gone.status_code == 204
    email.refresh_from_db()
    assert email.status == Status.FAILED
    assert email.reason.startswith("campaign ended: removed from the campaign by alice")
    enrolment = api.get(f"/campaigns/{campaign['id']}/enrolments", alice).data[0]
    assert (enrolment["state"], enrolment["next_step"]) == ("exited", None)
    again = api.delete(f"/campaigns/{campaign['id']}/enrolments/{enrolment['id']}", alice)
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"steps": []}, "steps"),
        ({"steps": [{"day": 0, "type": "call"}]}, "steps[0].day"),
        ({"steps": [{"day": -2, "type": "call"}]}, "steps[0].day"),
        ({"steps": [{"day": 1, "type": "auto_email", "thread": True, "body_text": "x"}]},
         "steps[0].thread"),
        ({"steps": [{"day": 1, "type": "auto_email", "subject": "Hi {{shoe_size}}",
                     "body_text": "x"}]}, "steps[0].subject"),
        ({"steps": [{"day": 1, "type": "call", "time": "25:00"}]}, "steps[0].time"),
        ({"steps": [{"day": 1, "type": "fax"}]}, "steps[0].type"),
        ({"steps": [{"day": 3, "type": "call"}, {"day": 2, "type": "call"}]}, "steps[1].day"),
        ({"name": ""}, "name"),
    ],
)  # fmt: skip
def test_bad_campaigns_are_422_naming_the_field(
    api: Api, alice: User, change: dict[str, Any], field: str
) -> None:
    answer = api.post("/campaigns", alice, {**THREE_STEPS, **change})
    assert answer.status_code == 422, answer.data
    assert field in answer.data["errors"], answer.data
    assert rows() == (0, 0, 0)


def test_enrolling_bad_or_doubled_addresses_is_422_and_enrols_no_one(api: Api, alice: User) -> None:
    campaign = create(api, alice)
    answer = api.post(
        f"/campaigns/{campaign['id']}/enrolments",
        alice,
        {"people": ["a@x.example", "not-an-address", "a@x.example"]},
    )
    assert answer.status_code == 422
    assert set(answer.data["errors"]) == {"people[1]", "people[2]"}
    assert Enrolment.objects.count() == 0


def test_editing_a_running_campaign(api: Api, alice: User) -> None:
    campaign = create(api, alice)
    cid = campaign["id"]
    api.post(f"/campaigns/{cid}/enrolments", alice, {"people": ["a@x.example", "b@x.example"]})
    kept = ("day", "type", "subject", "body_text", "thread", "notes")
    steps = [{"id": s["id"], **{k: s[k] for k in kept}} for s in campaign["steps"]]
    steps[0]["subject"] = "Hello {{first_name}}"
    added = [*steps, {"day": 9, "type": "linkedin", "notes": "connect"}]
    answer = api.patch(f"/campaigns/{cid}", alice, {"steps": added})
    assert answer.status_code == 200, answer.data
    assert [s["day"] for s in answer.data["steps"]] == [1, 3, 5, 9]
    assert answer.data["steps"][0]["subject"] == "Hello {{first_name}}"
    # The two stand on step 1: removing it strands them, unless told where they go.
    rest = [added[1], {**added[2], "thread": False, "subject": "Later"}, added[3]]
    refused = api.patch(f"/campaigns/{cid}", alice, {"steps": rest})
    assert refused.status_code == 409
    assert "2 people" in refused.data["detail"]
    assert len(api.get(f"/campaigns/{cid}", alice).data["steps"]) == 4
    reordered = api.patch(f"/campaigns/{cid}", alice, {"steps": [added[1], added[0], *added[2:]]})
    assert reordered.status_code in (409, 422)
    moved = api.patch(f"/campaigns/{cid}", alice, {"steps": rest, "strand_to": 0})
    assert moved.status_code == 200, moved.data
    people = api.get(f"/campaigns/{cid}/enrolments", alice).data
    assert {p["next_step"] for p in people} == {added[1]["id"]}


def test_pause_and_resume_go_on_from_each_persons_own_place(api: Api, alice: User) -> None:
    """listmonk #2313: resuming restarted everyone from the beginning."""
    start = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)  # a Monday
    with time_machine.travel(start, tick=False) as traveller:
        campaign = create(api, alice, {"name": "p", "steps": [
            {"day": 1, "type": "call"}, {"day": 2, "type": "call"}, {"day": 3, "type": "call"}
        ]})  # fmt: skip
        cid = campaign["id"]
        api.post(f"/campaigns/{cid}/enrolments", alice, {"people": ["a@x.example"]})
        Engine().run_once()
        from commandcenter.tasks import services
        from commandcenter.tasks.models import Task

        services.complete(alice, list(Task.objects.all()))
        Engine().run_once()  # a is now due on day 2
        traveller.move_to(start + dt.timedelta(hours=2))
        api.post(f"/campaigns/{cid}/enrolments", alice, {"people": ["b@x.example"]})
        assert api.post(f"/campaigns/{cid}/pause", alice).data["status"] == "paused"
        traveller.move_to(start + dt.timedelta(days=1, hours=3))
        assert Engine().run_once() == 0, "nothing runs while paused"
        assert api.post(f"/campaigns/{cid}/resume", alice).data["status"] == "active"
        Engine().run_once()
    by_person = {p["person"]: p for p in api.get(f"/campaigns/{cid}/enrolments", alice).data}
    step_ids = [s["id"] for s in campaign["steps"]]
    assert by_person["a@x.example"]["next_step"] == step_ids[1]
    assert by_person["b@x.example"]["next_step"] == step_ids[0]


def test_a_campaign_is_finished_only_when_every_enrolment_is_final(api: Api, alice: User) -> None:
    """listmonk #1931: a campaign was marked finished while people were still in it."""
    campaign = create(api, alice, {"name": "one", "steps": [{"day": 1, "type": "custom"}]})
    cid = campaign["id"]
    api.post(f"/campaigns/{cid}/enrolments", alice, {"people": ["a@x.example", "b@x.example"]})
    Engine().run_once()
    from commandcenter.tasks.models import Task

    a_task = Task.objects.get(person__email="a@x.example")
    api.post(f"/tasks/{a_task.pk}/complete", alice)
    Engine().run_once()
    stats = api.get(f"/campaigns/{cid}/stats", alice).data
    assert (stats["finished"], stats["active"], stats["is_finished"]) == (1, 1, False)
    b_task = Task.objects.get(person__email="b@x.example")
    api.post(f"/tasks/{b_task.pk}/skip", alice)
    Engine().run_once()
    stats = api.get(f"/campaigns/{cid}/stats", alice).data
    assert (stats["finished"], stats["is_finished"]) == (2, True)


def test_another_teams_campaign_is_not_found(api: Api, alice: User, carol: User) -> None:
    campaign = create(api, alice)
    cid = campaign["id"]
    assert api.get(f"/campaigns/{cid}", carol).status_code == 404
    assert (
        api.post(f"/campaigns/{cid}/enrolments", carol, {"people": ["x@x.example"]}).status_code
        == 404
    )
    assert api.post(f"/campaigns/{cid}/pause", carol).status_code == 404
    assert api.get("/campaigns", carol).data == []
    assert Enrolment.objects.count() == 0


def test_the_sending_policy_refuses_unusable_values_by_field(api: Api, alice: User) -> None:
    from commandcenter.campaigns.models import SendingPolicy

    bad = api.patch(
        "/sending-policy",
        alice,
        {"days": [], "start_time": "18:00", "end_time": "09:00", "daily_cap": 0},
    )
    assert bad.status_code == 422
    assert set(bad.data["errors"]) == {"days", "end_time", "daily_cap"}
    assert not SendingPolicy.objects.exists()
    unknown_time = api.patch("/sending-policy", alice, {"start_time": "9am"})
    assert list(unknown_time.data["errors"]) == ["start_time"]
    good = api.patch(
        "/sending-policy", alice, {"daily_cap": 200, "burst_count": 10, "burst_seconds": 60}
    )
    assert (good.status_code, good.data["daily_cap"], good.data["days"]) == (
        200,
        200,
        [0, 1, 2, 3, 4],
    )
    assert api.get("/sending-policy", alice).data["burst_seconds"] == 60


def test_stopping_a_campaign_exits_everyone_and_takes_no_one_new(api: Api, alice: User) -> None:
    campaign = create(api, alice, {"name": "s", "steps": [
        {"day": 1, "type": "auto_email", "subject": "Hi", "body_text": "Hello"}
    ]})  # fmt: skip
    cid = campaign["id"]
    api.post(f"/campaigns/{cid}/enrolments", alice, {"people": ["a@x.example", "b@x.example"]})
    Engine().run_once()
    stopped = api.post(f"/campaigns/{cid}/stop", alice)
    assert stopped.data["status"] == "stopped"
    assert stopped.data["stats"]["exited_by_reason"]["stopped"] == 2
    assert set(Email.objects.values_list("status", flat=True)) == {Status.FAILED}
    assert Email.objects.first().reason == "campaign ended: s was stopped"  # type: ignore[union-attr]
    late = api.post(f"/campaigns/{cid}/enrolments", alice, {"people": ["c@x.example"]})
    assert late.status_code == 409
    assert api.post(f"/campaigns/{cid}/resume", alice).data["status"] == "stopped"


def test_a_shared_campaign_shows_a_teammate_only_their_own_people(
    api: Api, alice: User, bob: User
) -> None:
    campaign = create(api, alice, {**THREE_STEPS, "shared_with_team": True})
    cid = campaign["id"]
    api.post(f"/campaigns/{cid}/enrolments", alice, {"people": ["alices@x.example"]})
    joined = api.post(f"/campaigns/{cid}/enrolments", bob, {"people": ["bobs@x.example"]})
    assert joined.status_code == 201
    assert [e["person"] for e in api.get(f"/campaigns/{cid}/enrolments", bob).data] == [
        "bobs@x.example"
    ]
    assert len(api.get(f"/campaigns/{cid}/enrolments", alice).data) == 2
    assert api.patch(f"/campaigns/{cid}", bob, {"name": "mine"}).status_code == 404
