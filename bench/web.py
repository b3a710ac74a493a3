"""The Command Center page, server-side: p95 for a rep with 100,000 emails among 1,000,000.

For SQLite and for PostgreSQL, in one run: a scratch database gets 1,000,000 synthetic emails
spread over 10 reps (`seed-demo --emails`, so one rep owns 100,000), then a child process
renders pages through Django's full stack (middleware, session, auth, templates) with the test
client — no network, no browser: the server's share of the time only. The baseline is the
Tasks page in the same process: the same stack with no outbox query. Before measuring, the
tables are analysed (and vacuumed on PostgreSQL), as autovacuum would have done by then.

`python -m bench.run web`. BENCH_WEB_EMAILS (default 1000000) sets the database size,
BENCH_WEB_REQUESTS (default 200) the requests per page, BENCH_POSTGRES_URL (default
postgres://postgres@127.0.0.1:5432/postgres) the server on which a scratch database is
created and dropped.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, LiteralString

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TARGET_P95_MS = 150.0


def main(argv: list[str]) -> None:
    if argv[:1] == ["--measure"]:
        measure(int(os.environ.get("BENCH_WEB_REQUESTS", "200")))
        return
    emails = int(os.environ.get("BENCH_WEB_EMAILS", "1000000"))
    for backend in ("sqlite", "postgresql"):
        with scratch_database(backend) as (env, note):
            if env is None:
                print(f"   {backend}: {note}")
                continue
            print(f"   {backend}: seeding {emails:,} emails for 10 reps…", flush=True)
            started = time.perf_counter()
            commandcenter = str(BIN / "commandcenter")
            run([commandcenter, "migrate", "--noinput"], env)
            run([commandcenter, "seed-demo", "--emails", str(emails), "--seed", "1"], env)
            print(f"   {backend}: seeded in {time.perf_counter() - started:.0f} s", flush=True)
            child = subprocess.run(
                [sys.executable, "-m", "bench.web", "--measure"],
                env=env,
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            )
            for line in child.stdout.splitlines():
                print(f"   {backend}: {line}", flush=True)


def run(command: list[str], env: dict[str, str]) -> None:
    subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True)


@contextmanager
def scratch_database(backend: str) -> Iterator[tuple[dict[str, str] | None, str]]:
    var = Path(tempfile.mkdtemp(prefix="cc-bench-web-"))
    env = dict(
        os.environ,
        COMMANDCENTER_VAR=str(var),
        DJANGO_SETTINGS_MODULE="commandcenter.settings",
        PYTHONPATH=str(ROOT),
    )
    try:
        if backend == "sqlite":
            yield dict(env, DATABASE_URL=f"sqlite:///{var / 'bench.sqlite3'}"), ""
            return
        server = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
        name = f"bench_web_{os.getpid()}"
        try:
            postgres_admin(server, "CREATE DATABASE {}", name)
        except Exception as error:  # noqa: BLE001 - any failure means: no PostgreSQL here
            yield None, f"skipped, no PostgreSQL at {server} ({error.__class__.__name__})"
            return
        try:
            yield dict(env, DATABASE_URL=server.rsplit("/", 1)[0] + f"/{name}"), ""
        finally:
            postgres_admin(server, "DROP DATABASE IF EXISTS {} WITH (FORCE)", name)
    finally:
        shutil.rmtree(var, ignore_errors=True)


def postgres_admin(server: str, statement: LiteralString, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server, autocommit=True) as db:
        db.execute(sql.SQL(statement).format(sql.Identifier(name)))


def measure(requests: int) -> None:
    """In the child: time each page `requests` times for the rep owning the most emails."""
    import django

    django.setup()
    from django.db.models import Count
    from django.test import Client

    from commandcenter.accounts.models import User
    from commandcenter.outbox.models import Email
    from commandcenter.outbox.queries import folder_page

    busiest = Email.objects.values("owner_id").annotate(n=Count("id")).order_by("-n").first() or {}
    rep = User.objects.get(pk=busiest["owner_id"])
    total = Email.objects.count()
    print(f"rep {rep.username} has {busiest['n']:,} of {total:,} emails")
    client = Client()
    client.force_login(rep)
    cursor = folder_page([rep.pk], "delivered").next_cursor
    pages: list[tuple[str, str]] = [
        ("baseline: Tasks page (same stack, no outbox query)", "/tasks/"),
        ("Command Center, Delivered, first page", "/folders/delivered/"),
        ("Command Center, Delivered, second page (keyset)", f"/folders/delivered/?cursor={cursor}"),
        ("Command Center, Failed", "/folders/failed/"),
        ("counts poll (tab bar)", "/emails/tabs/?folder=delivered"),
    ]
    for label, url in pages:
        p50, p95 = timed(page_getter(client, url), requests)
        verdict = ""
        if url.startswith("/folders/delivered/"):
            verdict = "  ok" if p95 <= TARGET_P95_MS else f"  OVER the {TARGET_P95_MS:.0f} ms bar"
        print(f"{label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms{verdict}")


def settle_statistics() -> None:
    """The database as it is at rest: a bulk load leaves PostgreSQL without planner statistics
    or a visibility map (autovacuum would make both within minutes), SQLite without stats."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM (ANALYZE) outbox_email")
            cursor.execute("VACUUM (ANALYZE) people_person")
        else:
            cursor.execute("ANALYZE")


def page_getter(client: Any, url: str) -> Callable[[], None]:
    def get() -> None:
        status = client.get(url).status_code
        if status != 200:
            raise SystemExit(f"{url} answered {status}")

    return get


def timed(call: Callable[[], None], requests: int) -> tuple[float, float]:
    for _ in range(5):  # warm caches, templates and the connection first
        call()
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(samples, n=20)
    return statistics.median(samples), cuts[18]


if __name__ == "__main__":
    main(sys.argv[1:])
