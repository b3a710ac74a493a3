"""`seed-demo --demo-user` fills the Tasks and Campaigns sections too, once."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from commandcenter.accounts.models import User
from commandcenter.campaigns.models import Campaign, Enrolment
from commandcenter.tasks.models import Task

pytestmark = pytest.mark.django_db


def test_the_demo_user_gets_tasks_and_a_running_campaign() -> None:
    call_command("seed_demo", "--demo-user", stdout=io.StringIO())
    demo = User.objects.get(username="demo")
    assert set(Task.objects.filter(assignee=demo).values_list("status", flat=True)) == {
        "open", "completed"
    }  # fmt: skip
    campaign = Campaign.objects.get(owner=demo)
    assert Enrolment.objects.filter(campaign=campaign, state="active").count() == 6
    call_command("seed_demo", "--demo-user", stdout=io.StringIO())
    assert Campaign.objects.filter(owner=demo).count() == 1
    assert Task.objects.filter(assignee=demo).count() == 6
