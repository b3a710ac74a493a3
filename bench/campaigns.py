"""Campaigns and tasks: the issue's three figures, each beside a baseline from the same run.

1. One engine pass over 100,000 active enrolments with 10,000 steps due (target ≤ 10 s), on
   SQLite and PostgreSQL; baseline: the same number of emails made by bulk compose
   (compose_bulk, Group mode, 1,000 at a time — its limit).
2. The Tasks page for a rep with 10,000 open tasks, server side (Django's test client: the
   full stack, no network): p95 (target ≤ 100 ms); baseline: the same page for a rep with none.
3. Enrolling 1,000 people in one API request (target ≤ 2 s); baseline: one Group send of
   1,000 emails through the API (POST /emails/bulk).

BENCH_CAMPAIGN_ENROLMENTS (default 100000), BENCH_CAMPAIGN_DUE (10000),
BENCH_CAMPAIGN_TASKS (10000), BENCH_CAMPAIGN_REQUESTS (200).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from bench.scratch import BACKENDS, ROOT, scratch_database
from bench.web import page_getter, timed

if TYPE_CHECKING:
    from commandcenter.accounts.models import User
    from commandcenter.campaigns.models import Campaign
    from commandcenter.people.models import Person

TARGET_ENGINE_S = 10.0
TARGET_TASKS_P95_MS = 100.0
TARGET_ENROL_S = 2.0


def main(argv: list[str]) -> None:
    if argv[:1] == ["--measure"]:
        measure()
        return
    for backend in BACKENDS:
        with scratch_database(backend, "campaigns") as env:
            if env is None:
                continue
            child = subprocess.run(
                [sys.executable, "-m", "bench.campaigns", "--measure"],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            if child.returncode:
                raise SystemExit(f"{backend}: the measuring child failed:\n{child.stderr[-3000:]}")
            for line in child.stdout.splitlines():
                print(f"   {backend}: {line}", flush=True)


def verdict(value: float, target: float) -> str:
    return "ok" if value <= target else f"OVER the {target:g} bar"


def measure() -> None:
    import django

    django.setup()
    from bench import campaign_data

    enrolled = int(os.environ.get("BENCH_CAMPAIGN_ENROLMENTS", "100000"))
    due = int(os.environ.get("BENCH_CAMPAIGN_DUE", "10000"))
    tasks = int(os.environ.get("BENCH_CAMPAIGN_TASKS", "10000"))
    requests = int(os.environ.get("BENCH_CAMPAIGN_REQUESTS", "200"))

    owner = campaign_data.rep("rep")
    started = time.perf_counter()
    members = campaign_data.people(owner, enrolled, prefix="p")
    target = campaign_data.campaign(owner)
    campaign_data.enrolments(target, members, due=due)
    print(f"generated {enrolled:,} people and enrolments in {time.perf_counter() - started:.0f} s")
    settle()
    engine_figures(owner, target, members[:due], due)
    tasks_figures(owner, members, tasks, requests)
    enrol_figures(owner)


def settle() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def engine_figures(owner: User, target: Campaign, due_people: list[Person], due: int) -> None:
    from commandcenter.accounts.models import User
    from commandcenter.campaigns.engine import Engine
    from commandcenter.outbox.compose import MAX_GROUP, Content, Recipient, compose_bulk
    from commandcenter.outbox.models import Email

    assert isinstance(owner, User)
    started = time.perf_counter()
    for start in range(0, due, MAX_GROUP):
        compose_bulk(
            owner,
            mode="group",
            recipients=[Recipient(p.email.lower()) for p in due_people[start : start + MAX_GROUP]],
            content=Content(
                "Hello {{first_name}}", "Hi {{first_name}}, a question about {{company}}."
            ),
        )
    baseline = time.perf_counter() - started
    Email.objects.all().delete()
    started = time.perf_counter()
    moved = Engine().drain()
    engine = time.perf_counter() - started
    made = Email.objects.filter(campaign=target).count()
    if made != due or moved != due:
        raise SystemExit(f"the engine made {made} emails for {due} due steps (moved {moved})")
    print(
        f"engine pass, {due:,} due of 100,000 active enrolments: {engine:.2f} s "
        f"({verdict(engine, TARGET_ENGINE_S)}); baseline, bulk compose of {due:,} emails: "
        f"{baseline:.2f} s ({engine / baseline:.2f}x)"
    )


def tasks_figures(owner: User, members: list[Person], count: int, requests: int) -> None:
    from django.test import Client

    from bench import campaign_data

    campaign_data.open_tasks(owner, members, count)
    settle()
    idle = campaign_data.rep("idle")
    figures = {}
    for label, user in (("baseline, a rep with no tasks", idle), (f"{count:,} open tasks", owner)):
        client = Client()
        client.force_login(user)
        figures[label] = timed(page_getter(client, "/tasks/"), requests)
    for label, (p50, p95) in figures.items():
        check = f" ({verdict(p95, TARGET_TASKS_P95_MS)})" if "open tasks" in label else ""
        print(f"Tasks page (Today), {label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms{check}")
    client = Client()
    client.force_login(owner)
    p50, p95 = timed(page_getter(client, "/tasks/view/upcoming/?sort=priority"), requests)
    print(
        f"Tasks page (Upcoming by priority), {count:,} open tasks: "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms"
    )


def enrol_figures(owner: User) -> None:
    from django.test import Client

    from bench import campaign_data
    from commandcenter.accounts.services import issue_api_token

    client = Client()
    headers = {"Authorization": f"Bearer {issue_api_token(owner)}"}
    rounds = 3
    enrol_times, bulk_times = [], []
    for round_number in range(rounds):
        target = campaign_data.campaign(owner)
        addresses = [f"new{round_number}-{n}@fresh{n % 50}.example" for n in range(1000)]
        started = time.perf_counter()
        answer = client.post(
            f"/api/v1/campaigns/{target.pk}/enrolments",
            json.dumps({"people": addresses}),
            content_type="application/json",
            headers=headers,
        )
        enrol_times.append(time.perf_counter() - started)
        if answer.status_code != 201 or len(answer.json()["enrolled"]) != 1000:
            raise SystemExit(f"enrolling answered {answer.status_code}: {answer.content[:300]!r}")
        others = [f"bulk{round_number}-{n}@fresh{n % 50}.example" for n in range(1000)]
        started = time.perf_counter()
        answer = client.post(
            "/api/v1/emails/bulk",
            json.dumps(
                {
                    "mode": "group",
                    "to": others,
                    "subject": "Hi {{first_name | there}}",
                    "body_text": "Hello",
                }
            ),
            content_type="application/json",
            headers=headers,
        )
        bulk_times.append(time.perf_counter() - started)
        if answer.status_code != 201:
            raise SystemExit(f"bulk send answered {answer.status_code}")
    enrol, bulk = min(enrol_times), min(bulk_times)
    print(
        f"enrolling 1,000 people in one request (new people, best of {rounds}): {enrol:.2f} s "
        f"({verdict(enrol, TARGET_ENROL_S)}); baseline, a Group send of 1,000 by the API: "
        f"{bulk:.2f} s"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
