"""Folder counts plus the first page of a folder, for a rep with 100,000 emails of 1,000,000.

On SQLite and on PostgreSQL: a scratch database gets the emails from `seed-demo --emails`
(100 reps, the first owning 10%), then a child process times outbox.queries.folder_counts and
folder_page (the two queries behind the Command Center screen) ~200 times across the eight
folders. Target: p95 <= 50 ms. Baselines from the same run: a bare `SELECT 1` round trip, and
the same measurement for a rep with ~9,000 emails. The plans (EXPLAIN) are printed too.
BENCH_FOLDERS_EMAILS (default 1000000) and BENCH_FOLDERS_RUNS (default 200) change the sizes.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

from bench.scratch import BACKENDS, django, scratch_database

TARGET_P95_MS = 50.0
REPS = 100
OWNER_SHARE = 0.1


def main(argv: list[str]) -> None:
    if argv[:1] == ["--measure"]:
        _measure(int(argv[1]))
        return
    emails = int(os.environ.get("BENCH_FOLDERS_EMAILS", "1000000"))
    runs = int(os.environ.get("BENCH_FOLDERS_RUNS", "200"))
    for backend in BACKENDS:
        with scratch_database(backend, "folders") as env:
            if env is None:
                continue
            started = time.perf_counter()
            django(env, "seed_demo", "--emails", str(emails), "--users", str(REPS),
                   "--owner-share", str(OWNER_SHARE), "--seed", "2")  # fmt: skip
            print(
                f"   {backend}: seeded {emails:,} emails in {time.perf_counter() - started:.0f} s"
            )
            code = f"from bench.folders import _measure; _measure({runs})"
            for line in django(env, "shell", "-c", code).splitlines():
                if line.startswith("|"):
                    print(f"   {backend}: {line[1:]}", flush=True)


def _measure(runs: int) -> None:
    """In the child: time counts + first page for the biggest rep and for a small one."""
    from django.db import connection
    from django.db.models import Count

    from commandcenter.outbox.models import Email
    from commandcenter.outbox.queries import folder_counts, folder_page
    from commandcenter.outbox.states import FOLDERS

    if connection.vendor == "postgresql":
        # What autovacuum does soon after a load: fresh statistics and visibility map (for
        # index-only scans).
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    by_owner = list(
        Email.objects.values("owner_id").annotate(n=Count("id")).order_by("-n", "owner_id")
    )
    big, small = by_owner[0], by_owner[-1]

    def select_one() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    def screen(owner: int) -> Callable[[int], None]:
        def run(number: int) -> None:
            folder_counts([owner])
            list(folder_page([owner], FOLDERS[number % len(FOLDERS)]).emails)

        return run

    total = sum(row["n"] for row in by_owner)
    print(
        f"|database: {total:,} emails, {len(by_owner)} reps; load average {os.getloadavg()[0]:.1f}"
    )
    _report("baseline: SELECT 1 round trip", lambda _: select_one(), runs)
    _report(
        f"baseline: counts + first page, rep with {small['n']:,} emails",
        screen(small["owner_id"]),
        runs,
    )
    p95 = _report(
        f"counts + first page, rep with {big['n']:,} emails", screen(big["owner_id"]), runs
    )
    _report(
        f"baseline: the same counts by GROUP BY over the email table (no counts cache), "
        f"rep with {big['n']:,} emails",
        lambda _: counts_by_scanning(big["owner_id"]),
        max(20, runs // 4),
    )
    verdict = "ok" if p95 <= TARGET_P95_MS else f"OVER the {TARGET_P95_MS:.0f} ms target"
    print(f"|target p95 <= {TARGET_P95_MS:.0f} ms: {verdict}")
    for folder in FOLDERS:

        def one_folder(_: int, folder: str = folder) -> None:
            folder_counts([big["owner_id"]])
            list(folder_page([big["owner_id"]], folder).emails)

        worst = _report(folder, one_folder, max(10, runs // 8), quiet=True)
        print(f"|  {folder}: counts + first page p95 {worst:.1f} ms")
    _explain(big["owner_id"])


def counts_by_scanning(owner: int) -> dict[str, int]:
    """What folder_counts would cost without the counts cache: a scan of the rep's rows."""
    from django.db.models import Count

    from commandcenter.outbox.models import Email
    from commandcenter.outbox.states import FOLDERS

    rows = (
        Email.objects.filter(owner_id=owner, status__in=FOLDERS)
        .values("status").annotate(n=Count("*")).order_by()
    )  # fmt: skip
    return {row["status"]: row["n"] for row in rows}


def _report(label: str, run: Callable[[int], object], runs: int, *, quiet: bool = False) -> float:
    """Print p50/p95 of wall time; returns the p95. The CPU time of this process is printed
    too: on a busy machine it shows what the queries cost without the wait for a core (on
    SQLite that is all of it; on PostgreSQL the server's share is not in it)."""
    run(0)  # warm the connection and the caches once
    wall, cpu = [], []
    for number in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        run(number)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    p95 = statistics.quantiles(wall, n=20)[-1]
    if not quiet:
        print(
            f"|{label}: p50 {statistics.median(wall):.2f} ms, p95 {p95:.2f} ms ({runs} runs; "
            f"this process's CPU p50 {statistics.median(cpu):.2f} ms, "
            f"p95 {statistics.quantiles(cpu, n=20)[-1]:.2f} ms)"
        )
    return p95


def _explain(owner: int) -> None:
    from commandcenter.outbox.models import Email

    page = (
        Email.objects.filter(owner_id__in=[owner], status="delivered")
        .select_related("person").order_by("-sort_at", "-id")[:51]
    )  # fmt: skip
    plan = " / ".join(line.strip() for line in page.explain().splitlines()[:4])
    print(f"|plan of the first page: {plan}")
    print("|counts: read from the counts cache (outbox/counts.py), one row per folder")
