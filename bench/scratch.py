"""Scratch databases for the benchmarks: SQLite in a temp dir, PostgreSQL on the local server.

Each is created empty, migrated by `commandcenter migrate`, used by child processes (the
settings read DATABASE_URL at start-up) and dropped afterwards. BENCH_POSTGRES_URL (default
postgres://postgres@127.0.0.1:5432/postgres) names the server's maintenance database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import LiteralString

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("sqlite", "postgresql")


@contextmanager
def scratch_database(backend: str, name: str) -> Iterator[dict[str, str] | None]:
    """The environment for child processes using a fresh database; None: no PostgreSQL here."""
    var = Path(tempfile.mkdtemp(prefix=f"cc-bench-{name}-"))
    env = dict(
        os.environ,
        COMMANDCENTER_VAR=str(var),
        DJANGO_SETTINGS_MODULE="commandcenter.settings",
        PYTHONPATH=str(ROOT),
    )
    try:
        if backend == "sqlite":
            env["DATABASE_URL"] = f"sqlite:///{var / 'bench.sqlite3'}"
            django(env, "migrate", "--noinput")
            yield env
            return
        server = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
        database = f"cc_bench_{name}_{os.getpid()}"
        try:
            _admin(server, "CREATE DATABASE {}", database)
        except Exception as error:  # noqa: BLE001 - any failure means: no PostgreSQL to use
            print(f"   postgresql: skipped, no server at {server} ({error.__class__.__name__})")
            yield None
            return
        try:
            env["DATABASE_URL"] = server.rsplit("/", 1)[0] + f"/{database}"
            django(env, "migrate", "--noinput")
            yield env
        finally:
            _admin(server, "DROP DATABASE IF EXISTS {} WITH (FORCE)", database)
    finally:
        shutil.rmtree(var, ignore_errors=True)


def django(env: dict[str, str], *args: str) -> str:
    """Run a management command in a child process; its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "django", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def _admin(server: str, statement: LiteralString, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server, autocommit=True) as db:
        db.execute(sql.SQL(statement).format(sql.Identifier(name)))
