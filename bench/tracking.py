"""Tracking endpoints under load: events durably recorded per second, against a baseline.

For SQLite and for PostgreSQL, in one run: the web server of `commandcenter serve` (granian)
serves the app; `wrk` (Debian's, from a second process) hits the open pixel and then tracked
links of a few hundred delivered emails.
The baseline is the same server answering the same requests with TRACKING_RECORD=false (no
spool, no database work). "Recorded" counts the open/click Events in the database once the
spool has been drained, over the time from the first request to the last event committed.

`python -m bench.run tracking`; BENCH_TRACKING_SECONDS (default 10) sets each wrk run's length;
BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres) the server on which
a scratch database is created and dropped.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EMAILS = 300
CONNECTIONS = int(os.environ.get("BENCH_TRACKING_CONNECTIONS", "32"))
WORKERS = int(os.environ.get("BENCH_TRACKING_WORKERS", "2"))
THREADS = int(os.environ.get("BENCH_TRACKING_THREADS", "16"))
SERVER = os.environ.get("BENCH_TRACKING_SERVER", "granian")
# "web": each web server worker drains the spool in a thread (the default set-up);
# "process": a separate `commandcenter track-drain` does.
DRAIN = os.environ.get("BENCH_TRACKING_DRAIN", "web")
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
WRK_SCRIPT = """
paths = {%s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
"""


@dataclass
class Run:
    label: str
    requests_per_second: float
    requests: int
    errors: int
    # Answers per second while wrk ran (each hit durably spooled before its answer).
    answered_per_second: float = 0.0


def main(argv: list[str]) -> None:
    if argv[:1] == ["--seed"]:
        seed(int(argv[1]))
        return
    if shutil.which("wrk") is None:
        print("   wrk is not installed (apt-get install wrk): skipped")
        return
    seconds = int(os.environ.get("BENCH_TRACKING_SECONDS", "10"))
    for backend in os.environ.get("BENCH_TRACKING_BACKENDS", "sqlite,postgresql").split(","):
        with scratch_database(backend) as (env, url):
            if env is None:
                print(f"   {backend}: {url}")
                continue
            measure(backend, env, seconds, url)


def measure(backend: str, env: dict[str, str], seconds: int, database: str) -> None:
    subprocess.run(
        [BIN / "commandcenter", "migrate", "--noinput"], env=env, check=True, capture_output=True
    )
    seeded = subprocess.run(
        [sys.executable, "-m", "bench.tracking", "--seed", str(EMAILS)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    tokens = json.loads(seeded.stdout.strip().splitlines()[-1])
    pixel_paths = [f"/t/o/{token}.gif" for token in tokens["emails"]]
    click_paths = [f"/t/c/{token}" for token in tokens["links"]]
    spool = Path(env["COMMANDCENTER_VAR"]) / "spool" / "tracking"

    baseline = load(env, pixel_paths, seconds, record=False, label="baseline (no recording)")
    opens = load(
        env,
        pixel_paths,
        seconds,
        record=True,
        label="open pixel",
        spool=spool,
        database=database,
        kind="opened",
    )
    clicks = load(
        env,
        click_paths,
        seconds,
        record=True,
        label="click redirect",
        spool=spool,
        database=database,
        kind="clicked",
    )
    print(
        f"   {backend}: {SERVER} {WORKERS} workers x {THREADS} threads, drained by {DRAIN}, "
        f"wrk 1 thread {CONNECTIONS} connections, {seconds} s per run"
    )
    print(f"     {baseline.label:<28} {baseline.requests_per_second:8.0f} req/s")
    for run in (opens, clicks):
        ratio = run.requests_per_second / baseline.requests_per_second
        print(
            f"     {run.label:<28} {run.requests_per_second:8.0f} events recorded/s "
            f"({ratio:.0%} of baseline; {run.requests} events, {run.errors} errors; "
            f"{run.answered_per_second:.0f} hits/s spooled while wrk ran)"
        )


def load(
    env: dict[str, str],
    paths: list[str],
    seconds: int,
    *,
    record: bool,
    label: str,
    spool: Path | None = None,
    database: str = "",
    kind: str = "",
) -> Run:
    port = free_port()
    server_env = dict(
        env,
        TRACKING_RECORD="true" if record else "false",
        TRACKING_DRAIN_IN_WEB="true" if DRAIN == "web" else "false",
    )
    before = count_events(database, kind) if record else 0
    lines_before = spooled_lines(spool)
    with web_server(server_env, port), drainer(server_env, record and DRAIN == "process"):
        started = time.perf_counter()
        output = wrk(port, paths, seconds)
        answering = time.perf_counter() - started
        answered = wrk_figure(r"(\d+) requests in", output)
        errors = wrk_errors(output)
        if not record:
            return Run(label, answered / (time.perf_counter() - started), answered, errors)
        # Every answered hit is spooled (on disk) before its answer left: wait for its event.
        spooled, recorded = wait_recorded(spool, lines_before, database, kind, before)
        elapsed = time.perf_counter() - started
    if recorded != spooled:
        print(f"     !! {label}: {spooled} hits spooled but {recorded} events recorded")
    return Run(label, recorded / elapsed, recorded, errors, answered / answering)


def wrk_errors(output: str) -> int:
    """Socket errors and answers that are neither 2xx nor 3xx."""
    socket_errors = re.search(r"Socket errors: (.*)", output)
    counted = [int(n) for n in re.findall(r"\d+", socket_errors.group(1))] if socket_errors else []
    bad_status = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return sum(counted) + (int(bad_status.group(1)) if bad_status else 0)


@contextmanager
def drainer(env: dict[str, str], wanted: bool) -> Iterator[None]:
    if not wanted:
        yield
        return
    process = subprocess.Popen([BIN / "commandcenter", "track-drain"], env=env, cwd=ROOT)
    try:
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def wrk_figure(pattern: str, output: str) -> int:
    found = re.search(pattern, output)
    if found is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return int(found.group(1))


def wait_recorded(
    spool: Path | None, lines_before: int, database: str, kind: str, before: int
) -> tuple[int, int]:
    """(hits spooled, events recorded) once every spooled hit is an event (or time is up).

    Requests still in flight when wrk stops are spooled a moment later: count them too.
    """
    deadline = time.monotonic() + 120
    spooled = recorded = -1
    while time.monotonic() < deadline:
        now_spooled = spooled_lines(spool) - lines_before
        recorded = count_events(database, kind) - before
        if recorded >= now_spooled == spooled:
            return now_spooled, recorded
        spooled = now_spooled
        time.sleep(0.05)
    return spooled, recorded


def spooled_lines(spool: Path | None) -> int:
    if spool is None or not spool.is_dir():
        return 0
    return sum(path.read_bytes().count(b"\n") for path in spool.iterdir())


def count_events(database: str, kind: str) -> int:
    query = f"SELECT count(*) FROM outbox_event WHERE kind = '{kind}'"
    if database.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(database.removeprefix("sqlite:///"), timeout=30) as db:
            return int(db.execute(query).fetchone()[0])
    with psycopg.connect(database) as db:
        row = db.execute(query).fetchone()
        return int(row[0]) if row else 0


@contextmanager
def web_server(env: dict[str, str], port: int) -> Iterator[None]:
    from commandcenter.web.management.commands.serve import web_env

    server = subprocess.Popen(server_command(port), env=web_env(THREADS, env), cwd=ROOT)
    try:
        wait_listening(port)
        yield
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def server_command(port: int) -> list[str]:
    """`commandcenter serve`'s own web server (granian); BENCH_TRACKING_SERVER=gunicorn runs
    gunicorn's gthread workers instead, for comparison."""
    if SERVER == "gunicorn":
        return [
            str(BIN / "gunicorn"), "commandcenter.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS),
            "--worker-class", "gthread", "--threads", str(THREADS), "--log-level", "warning",
        ]  # fmt: skip
    from commandcenter.web.management.commands.serve import web_server as production_server

    return production_server("127.0.0.1", port, WORKERS, THREADS)


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/t/o/warmup.gif", timeout=1)
            return
        except (URLError, ConnectionError, OSError):
            time.sleep(0.1)
    raise RuntimeError("the web server did not start")


def wrk(port: int, paths: list[str], seconds: int) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % ", ".join(json.dumps(p) for p in paths))
    try:
        done = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{CONNECTIONS}",
                f"-d{seconds}s",
                "-H",
                f"User-Agent: {CHROME}",
                "-s",
                script.name,
                f"http://127.0.0.1:{port}",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        os.unlink(script.name)
    return done.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def scratch_database(backend: str) -> Iterator[tuple[dict[str, str] | None, str]]:
    var = Path(tempfile.mkdtemp(prefix="cc-bench-tracking-"))
    (var / "static").mkdir()  # whitenoise warns in every worker without it
    env = dict(
        os.environ,
        COMMANDCENTER_VAR=str(var),
        DJANGO_SETTINGS_MODULE="commandcenter.settings",
        SECRET_KEY=secrets.token_urlsafe(32),
        PUBLIC_URL="http://127.0.0.1:8000",
        TRACKING_DRAIN_IN_WEB="true",
        PYTHONPATH=str(ROOT),
    )
    try:
        if backend == "sqlite":
            url = f"sqlite:///{var / 'bench.sqlite3'}"
            yield dict(env, DATABASE_URL=url), url
            return
        server = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
        name = f"bench_tracking_{os.getpid()}"
        try:
            admin(server, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.Error as error:
            yield None, f"skipped, no PostgreSQL at {server} ({error.__class__.__name__})"
            return
        url = server.rsplit("/", 1)[0] + f"/{name}"
        try:
            yield dict(env, DATABASE_URL=url), url
        finally:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            admin(server, drop.format(sql.Identifier(name)))
    finally:
        shutil.rmtree(var, ignore_errors=True)


def admin(server: str, statement: sql.Composed) -> None:
    with psycopg.connect(server, autocommit=True) as db:
        db.execute(statement)


def seed(count: int) -> None:
    """Delivered emails with one tracked link each; prints their tokens as JSON."""
    import django

    django.setup()
    import datetime as dt

    from django.utils import timezone

    from commandcenter.accounts.services import create_user
    from commandcenter.outbox.models import Email
    from commandcenter.outbox.states import Status
    from commandcenter.people.models import Person
    from commandcenter.tracking.models import TrackedLink

    owner = create_user("bench", email="bench@example.com", password=None)
    sent_at = timezone.now() - dt.timedelta(hours=1)
    people = Person.objects.bulk_create(
        Person(owner=owner, email=f"prospect{n}@example.org") for n in range(count)
    )
    emails = Email.objects.bulk_create(
        Email(
            owner=owner,
            person=person,
            to_address=person.email,
            subject="Hello",
            body_text="Hi",
            status=Status.DELIVERED,
            sent_at=sent_at,
            sort_at=sent_at,
        )
        for person in people
    )
    links = TrackedLink.objects.bulk_create(
        TrackedLink(email=email, url=f"https://example.com/{email.pk}", position=0)
        for email in emails
    )
    print(
        json.dumps({"emails": [e.token for e in emails], "links": [link.token for link in links]})
    )


if __name__ == "__main__":
    main(sys.argv[1:])
