"""Start-up cost of `commandcenter ingest`, which an MTA's pipe pays on every message.

On a migrated scratch SQLite database with a few delivered emails, each run pipes Postfix's
bounce of a different email into `commandcenter ingest`, as a pipe transport does (a real
first bounce: the email moves to Bounced, its address is suppressed), and takes the wall
time of the whole process. Two ways: handed to the running worker (`commandcenter worker`
listening on its socket, as in any installation that sends mail: signals/handoff.py), the
target; and alone, no worker listening, when `ingest` sets Django up itself. Beside them,
in the same runs: `python -c pass` (the interpreter alone, the baseline) and the same ingest
with every app of the web process loaded (`python -m django ingest`, the app's full
settings), which is what the lean settings of commandcenter/settings_ingest.py save.
The package is byte-compiled first, as an install does. Figures are medians; the runs of
the commands are interleaved so that other load on the machine slows each alike, and the
CPU time (user + system) of each process is printed beside its wall time: other load
stretches the wall time, much less the CPU time. The handed-off run's CPU is the `ingest`
process's alone; the worker's share is in its wall time.

`python -m bench.run startup`; BENCH_STARTUP_RUNS (default 15) sets the runs of each.
"""

from __future__ import annotations

import compileall
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bench.scratch import ROOT, scratch_database

BIN = Path(sys.executable).parent
TARGET_SECONDS = 0.3
BOUNCE_DOMAIN = "bounces.bench.example"
HANDED_OFF = "commandcenter ingest, to the worker"
BOUNCED = re.compile(r"bounce: \d+")
POSTFIX_BOUNCE = ROOT / "commandcenter/signals/tests/data/heldout/messages/postfix-userunknown.eml"


def main(argv: list[str]) -> None:
    runs = int(os.environ.get("BENCH_STARTUP_RUNS", "15"))
    compileall.compile_dir(ROOT / "commandcenter", quiet=1)
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        HANDED_OFF: [str(BIN / "commandcenter"), "ingest"],
        "commandcenter ingest, alone": [str(BIN / "commandcenter"), "ingest"],
        "ingest with the web apps": [sys.executable, "-m", "django", "ingest"],
    }
    timings: dict[str, list[Timing]] = {label: [] for label in commands}
    with scratch_database("sqlite", "startup") as env:
        assert env is not None  # SQLite is always there
        env["BOUNCE_DOMAIN"] = BOUNCE_DOMAIN
        socket_path = Path(env["COMMANDCENTER_VAR"]) / "ingest.sock"
        reports = iter(bounces(env, (runs + 1) * 3))
        with running_worker(dict(env, INGEST_SOCKET=str(socket_path)), socket_path):
            # Round 0 is not counted: it fills the OS file cache.
            for round_number in range(runs + 1):
                for label, argv in commands.items():
                    run_env = dict(
                        env, INGEST_SOCKET=str(socket_path) if label == HANDED_OFF else ""
                    )
                    if "ingest" in argv:
                        recipient, bounce = next(reports)
                        # As a Postfix pipe runs it: argv=… ingest --recipient ${recipient}
                        pipe = [*argv, "--recipient", recipient]
                        timing = timed(pipe, run_env, bounce, expect=BOUNCED)
                    else:
                        timing = timed(argv, run_env, b"")
                    if round_number:
                        timings[label].append(timing)
    report(timings, runs)


def report(timings: dict[str, list[Timing]], runs: int) -> None:
    baseline = statistics.median(wall for wall, _ in timings["python -c pass"])
    print(f"   one bounce per run, median of {runs} runs (load average {load_average()})")
    print(f"   {'':34}{'wall':>8}{'min':>8}{'CPU':>8}{'wall/baseline':>15}")
    for label, values in timings.items():
        wall = statistics.median(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        fastest = min(w for w, _ in values)
        target = f"   target <= {TARGET_SECONDS:.1f} s" if label == HANDED_OFF else ""
        print(
            f"   {label:34}{wall:7.3f}s{fastest:7.3f}s{cpu:7.3f}s{wall / baseline:14.1f}x{target}"
        )


@contextmanager
def running_worker(env: dict[str, str], socket_path: Path) -> Iterator[None]:
    """`commandcenter worker` on the scratch database, listening for hand-offs."""
    worker = subprocess.Popen(
        [str(BIN / "commandcenter"), "worker"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not socket_path.exists():
            if worker.poll() is not None or time.monotonic() > deadline:
                error = worker.stderr.read().decode() if worker.stderr else ""
                raise SystemExit(f"the worker did not start listening: {error[-2000:]}")
            time.sleep(0.1)
        yield
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def bounces(env: dict[str, str], count: int) -> list[tuple[str, bytes]]:
    """The envelope recipient and the bounce report of each of `count` delivered emails
    seeded into the database."""
    seeded = subprocess.run(
        [sys.executable, "-m", "bench.tracking", "--seed", str(count)],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    tokens = json.loads(seeded.stdout.strip().splitlines()[-1])["emails"]
    # The seed sends email n to prospect{n}@example.org.
    return [
        (verp(token), bounce_report(token, f"prospect{n}@example.org"))
        for n, token in enumerate(tokens)
    ]


def bounce_report(token: str, address: str) -> bytes:
    """Postfix's own report of an unknown user, about the email of `token` to `address`."""
    report = POSTFIX_BOUNCE.read_bytes()
    for old, new in [
        ("dana.moss@example.org", address),
        ("bounce+tok1@bounces.sales.example.com", verp(token)),
        ("<dsn-1@mx.example.net>", f"<dsn-{token}@mx.example.net>"),
    ]:
        report = report.replace(old.encode(), new.encode())
    return report


def verp(token: str) -> str:
    return f"bounce+{token}@{BOUNCE_DOMAIN}"


Timing = tuple[float, float]  # wall seconds, CPU seconds


def timed(
    argv: Sequence[str], env: dict[str, str], stdin: bytes, expect: re.Pattern[str] | None = None
) -> Timing:
    """One run, start to exit; a failure (or an unexpected answer) stops the benchmark."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, input=stdin, env=env, cwd=ROOT, capture_output=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    answer = done.stdout.decode().strip()
    if done.returncode or (expect is not None and not expect.fullmatch(answer)):
        raise SystemExit(f"{' '.join(argv)} failed: {answer}\n{done.stderr.decode()[-2000:]}")
    return seconds, cpu


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


if __name__ == "__main__":
    main(sys.argv[1:])
