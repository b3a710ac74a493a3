"""The bulk generator's speed: `seed-demo --emails N` into SQLite and into PostgreSQL.

Target: at least 50,000 emails/s into SQLite. The baseline, from the same run, is the ORM's
bulk_create of the same kind of rows (what the app itself would manage), on a small sample.
BENCH_SEED_EMAILS (default 500000) sets N.
"""

from __future__ import annotations

import os
import resource
import time

from bench.scratch import BACKENDS, django, scratch_database

TARGET_SQLITE = 50_000
ORM_SAMPLE = 20_000


def main(argv: list[str]) -> None:
    if argv[:1] == ["--orm-baseline"]:
        _orm_baseline(int(argv[1]))
        return
    emails = int(os.environ.get("BENCH_SEED_EMAILS", "500000"))
    for backend in BACKENDS:
        with scratch_database(backend, "seed") as env:
            if env is None:
                continue
            started = time.perf_counter()
            cpu_before = _children_cpu()
            output = django(
                env, "seed_demo", "--emails", str(emails), "--users", "100", "--seed", "1"
            )
            seconds = time.perf_counter() - started
            cpu = _children_cpu() - cpu_before
            rate = float(output.strip().splitlines()[-1].split()[0].replace(",", ""))
            verdict = ""
            if backend == "sqlite":
                verdict = (
                    "  ok" if rate >= TARGET_SQLITE else f"  UNDER the {TARGET_SQLITE:,}/s bar"
                )
            print(
                f"   {backend}: {emails:,} emails at {rate:,.0f} emails/s "
                f"({seconds:.1f} s with start-up and migrations; the generator used "
                f"{cpu:.1f} CPU-s in all its processes: {emails / cpu:,.0f} emails per CPU-second)"
                f"{verdict}",
                flush=True,
            )
            baseline = django(
                env,
                "shell",
                "-c",
                f"from bench.seed import _orm_baseline; _orm_baseline({ORM_SAMPLE})",
            )
            print(f"   {backend}: baseline {baseline.strip().splitlines()[-1]}", flush=True)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _orm_baseline(count: int) -> None:
    """In a child process: Email.objects.bulk_create of `count` emails, emails/s."""
    from django.utils import timezone

    from commandcenter.accounts.models import User
    from commandcenter.outbox.models import Email
    from commandcenter.people.models import Person

    owner = User.objects.order_by("pk")[0]
    person = Person.objects.filter(owner=owner).order_by("pk")[0]
    now = timezone.now()
    started = time.perf_counter()
    Email.objects.bulk_create(
        (
            Email(owner=owner, person=person, to_address=person.email, subject="Hello",
                  body_text="Hi", status="delivered", sent_at=now, send_at=now, sort_at=now)
            for _ in range(count)
        ),
        batch_size=1000,
    )  # fmt: skip
    rate = count / (time.perf_counter() - started)
    print(f"ORM bulk_create of {count:,} emails: {rate:,.0f} emails/s")
