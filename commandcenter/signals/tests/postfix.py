"""A Postfix of the tests' own: Debian's postfix on loopback, with its own configuration,
queue and log under a temporary directory (`postfix -c DIR`), its own free ports, never the
system's instance nor port 25, and nothing that can leave the machine.

What it is made of, and why:

- Two smtpd listeners on 127.0.0.1: `submission`, which trusts loopback (what EMAIL_URL
  points at, like an operator's relay), and `mx`, which trusts nobody and takes mail only for
  the domains it serves (relay_domains, the mailbox domains), as port 25 does for the world.
- Virtual mailbox domains delivered to Maildirs under the directory (no system user needed),
  and `error:` for every other domain (default_transport, relay_transport, local_transport):
  whatever is not routed on purpose bounces here instead of going out. The smtp client only
  ever reaches 127.0.0.1, by transport-map entries.
- The pipe transport to `commandcenter ingest`, written from the same templates as
  docs/inbound.md shows (`pipe_service()`, `ROUTING_MAIN_CF`, `TRANSPORT_LINE`, `ALIAS_LINE`…;
  a test checks the docs against them).

The pipe runs as an unprivileged user, as Postfix demands: the dedicated system user
`cc-pipe-test` (created here once, no login, no home). It is given, through its group, what the
docs say the pipe's user needs: the app's var/ (read and write, setgid so that files created
there stay in the group), var/secret_key (read) and, on SQLite, the test database file (read
and write; SQLite gives its -wal and -shm files the database's owner and mode). It must also
be able to run the venv: when the venv's Python lives where that user may not go (pyenv
under /root, mode 0700), the pipe gets a venv of its own made from a system python3.11 of the
same version that loads the same site-packages (and so the same commandcenter).
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import json
import math
import os
import pwd
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import TypeVar

import pytest
from django.conf import settings
from django.db import connection

from commandcenter.delivery.testing import database_url, free_port, subprocess_env
from commandcenter.outbox.models import Email

T = TypeVar("T")

POSTFIX = Path("/usr/sbin/postfix")
POSTQUEUE = Path("/usr/sbin/postqueue")
SCRIPT = Path(sys.executable).parent / "commandcenter"
PIPE_USER = "cc-pipe-test"
# Mailboxes belong to nobody: the virtual delivery agent needs some uid, not a real user.
MAILBOX_OWNER = "nobody"

# -- what docs/inbound.md shows, filled in with the docs' values or the tests' ------------

PIPE_SERVICE = (
    "{name} unix  -       n       n       -       -       pipe\n"
    "  -o export_environment={environment}\n"
    "  flags=Rq user={user} null_sender=\n"
    "  argv={command} ingest --source postfix --sender ${{sender}} --recipient ${{recipient}}\n"
)
ROUTING_MAIN_CF = (
    "relay_domains = {relay_domains}\n"
    "transport_maps = texthash:{config}/transport\n"
    "virtual_alias_maps = texthash:{config}/virtual\n"
)
# The pipe's argv names one recipient: Postfix must not hand it several at once.
RECIPIENT_LIMIT = "{name}_destination_recipient_limit = 1\n"
TRANSPORT_LINE = "{domain}   {transport}\n"
LISTENER_TRANSPORT = "smtp:[127.0.0.1]:{port}"
ALIAS_LINE = "{address}   {address}, {copy}\n"
MAILBOX_LINE = "{address}   {path}/\n"  # a trailing slash: a Maildir
# What Postfix hands on besides ours (its own default list, less MAIL_CONFIG).
BASE_ENVIRONMENT = ("TZ", "LANG")


def pipe_service(name: str, user: str, command: str, environment: Mapping[str, str]) -> str:
    """The master.cf entry of a pipe to `commandcenter ingest`."""
    return PIPE_SERVICE.format(
        name=name, user=user, command=command, environment=export_environment(environment)
    )


def export_environment(variables: Mapping[str, str]) -> str:
    """The value of export_environment: names Postfix passes on, then ours as NAME=value."""
    for name, value in variables.items():
        if re.search(r"[\s,{}]", value):
            raise ValueError(f"{name}: a value for export_environment has no spaces or commas")
    # Postfix expands $name in parameter values: a literal $ is written $$.
    pairs = [f"{name}={value.replace('$', '$$')}" for name, value in variables.items()]
    return ",".join([*BASE_ENVIRONMENT, *pairs])


# -- the instance -----------------------------------------------------------------------

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
maillog_file = {root}/postfix.log
maillog_file_prefixes = {root}
myhostname = mta.test
mydomain = mta.test
myorigin = mta.test
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
biff = no
append_dot_mydomain = no
# Nothing leaves the machine: a domain not routed below on purpose bounces here.
default_transport = error:5.7.1 nothing leaves the machine in tests
relay_transport = error:5.7.1 nothing leaves the machine in tests
local_transport = error:5.7.1 no local delivery in tests
alias_maps =
alias_database =
local_recipient_maps =
smtp_dns_support_level = disabled
virtual_mailbox_domains = {mailbox_domains}
virtual_mailbox_base = {root}/mail
virtual_mailbox_maps = texthash:{root}/config/mailboxes
virtual_uid_maps = static:{mailbox_uid}
virtual_gid_maps = static:{mailbox_gid}
virtual_minimum_uid = 1
"""

MASTER_CF = """\
127.0.0.1:{submission_port} inet n - n - - smtpd
127.0.0.1:{mx_port} inet n - n - - smtpd
  -o smtpd_relay_restrictions=reject_unauth_destination
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


@dataclass
class Pipe:
    """A pipe service to `commandcenter ingest` and the environment it runs with."""

    name: str
    environment: dict[str, str]
    command: Path | None = None  # another console script than the one the pipe's user runs


@dataclass
class Setup:
    """What a test module wants of its Postfix."""

    relay_domains: list[str]  # the bounce domains this MX accepts mail for
    mailboxes: list[str]
    pipes: list[Pipe]
    transports: dict[str, str]  # domain -> transport, e.g. "commandcenter:"
    aliases: dict[str, str] = field(default_factory=dict)  # address -> the copy's address
    main_cf: dict[str, str] = field(default_factory=dict)  # more main.cf settings


@dataclass
class Postfix:
    root: Path
    submission_port: int
    mx_port: int
    pipe_command: Path
    setup: Setup

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def url(self) -> str:
        """EMAIL_URL for the sender: the submission listener."""
        return f"smtp://127.0.0.1:{self.submission_port}"

    def postfix(self, *args: str) -> None:
        run([str(POSTFIX), "-c", str(self.config), *args], what=f"postfix {' '.join(args)}")

    def submit(self, raw: bytes, sender: str, recipients: Iterable[str], *, mx: bool) -> None:
        """Hand a message over by SMTP: to the mx listener (mail from the world) or to the
        submission one (from this host)."""
        port = self.mx_port if mx else self.submission_port
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.sendmail(sender, list(recipients), raw)

    def log(self) -> str:
        path = self.root / "postfix.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_lines(self, pattern: str) -> list[str]:
        return [line for line in self.log().splitlines() if re.search(pattern, line)]

    def queue(self) -> list[dict]:
        """What Postfix holds (postqueue -j: one JSON object per message)."""
        done = run([str(POSTQUEUE), "-c", str(self.config), "-j"], what="postqueue -j")
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]

    def flush(self) -> None:
        """Try every queued message now (postqueue -f), as an operator does after a fix."""
        run([str(POSTQUEUE), "-c", str(self.config), "-f"], what="postqueue -f")

    def flush_until(self, what: str, check: Callable[[], T | None], timeout: float = 60) -> T:
        """Flush, and flush again every few seconds until `check` holds: a flush given while
        a reload is still restarting Postfix's services can be lost (the queue manager then
        waits minutes before its next try), as an operator would find and do again."""
        last = -math.inf

        def flushed_check() -> T | None:
            nonlocal last
            if time.monotonic() - last > 5:
                self.flush()
                last = time.monotonic()
            return check()

        return self.wait_for(what, flushed_check, timeout)

    def mailbox(self, address: str) -> list[bytes]:
        """The messages in a virtual mailbox, oldest first."""
        maildir = self.root / "mail" / mailbox_path(address)
        files = [path for sub in ("new", "cur") for path in (maildir / sub).glob("*")]
        return [path.read_bytes() for path in sorted(files, key=lambda p: p.stat().st_mtime)]

    def wait_for(self, what: str, check: Callable[[], T | None], timeout: float = 60) -> T:
        return wait_until(what, check, timeout, explain=self.log_tail)

    def wait_for_log(self, pattern: str, timeout: float = 60) -> str:
        """The first log line matching `pattern`, once Postfix has written it."""
        return self.wait_for(
            f"a Postfix log line matching {pattern!r}",
            lambda: next(iter(self.log_lines(pattern)), None),
            timeout,
        )

    def log_tail(self) -> str:
        return "Postfix log, last lines:\n" + "\n".join(self.log().splitlines()[-40:])

    def write_config(self) -> None:
        write_config(self)


def wait_until(
    what: str, check: Callable[[], T | None], timeout: float, explain: Callable[[], str]
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        outcome = check()
        if outcome:
            return outcome
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}\n{explain()}")
        time.sleep(0.1)


def run(argv: list[str], *, what: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}): {done.stderr or done.stdout}")
    return done


def write_config(postfix: Postfix) -> None:
    setup, config, root = postfix.setup, postfix.config, postfix.root
    owner = pwd.getpwnam(MAILBOX_OWNER)
    user = pipe_user()
    mailbox_domains = sorted({address.partition("@")[2] for address in setup.mailboxes})
    main_cf = MAIN_CF.format(
        root=root,
        mailbox_domains=", ".join(mailbox_domains),
        mailbox_uid=owner.pw_uid,
        mailbox_gid=owner.pw_gid,
    )
    main_cf += ROUTING_MAIN_CF.format(relay_domains=", ".join(setup.relay_domains), config=config)
    main_cf += "".join(RECIPIENT_LIMIT.format(name=pipe.name) for pipe in setup.pipes)
    main_cf += "".join(f"{name} = {value}\n" for name, value in setup.main_cf.items())
    master_cf = MASTER_CF.format(submission_port=postfix.submission_port, mx_port=postfix.mx_port)
    master_cf += "".join(
        pipe_service(
            pipe.name, user.pw_name, str(pipe.command or postfix.pipe_command), pipe.environment
        )
        for pipe in setup.pipes
    )
    (config / "main.cf").write_text(main_cf)
    (config / "master.cf").write_text(master_cf)
    (config / "transport").write_text(
        "".join(
            TRANSPORT_LINE.format(domain=domain, transport=transport)
            for domain, transport in setup.transports.items()
        )
    )
    (config / "virtual").write_text(
        "".join(
            ALIAS_LINE.format(address=address, copy=copy) for address, copy in setup.aliases.items()
        )
    )
    (config / "mailboxes").write_text(
        "".join(
            MAILBOX_LINE.format(address=address, path=mailbox_path(address))
            for address in setup.mailboxes
        )
    )


@contextlib.contextmanager
def running_postfix(setup: Setup) -> Iterator[Postfix]:
    """Start an instance for `setup`; stop it and remove everything of it afterwards."""
    require_postfix()
    root = Path(tempfile.mkdtemp(prefix="cc-postfix-"))
    try:
        # Postfix's daemons (the postfix user) must reach the queue below it.
        root.chmod(0o755)
        for sub in ("config", "queue", "data", "mail"):
            (root / sub).mkdir()
        shutil.chown(root / "data", "postfix")
        shutil.chown(
            root / "mail", MAILBOX_OWNER, grp.getgrgid(pwd.getpwnam(MAILBOX_OWNER).pw_gid).gr_name
        )
        grant_pipe_access()
        postfix = Postfix(root, free_port(), free_port(), pipe_command(root), setup)
        postfix.write_config()
        postfix.postfix("start")
        try:
            wait_until(
                "Postfix to listen",
                lambda: listening(postfix.submission_port) and listening(postfix.mx_port),
                30,
                explain=postfix.log_tail,
            )
            yield postfix
        finally:
            stop(postfix)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def stop(postfix: Postfix) -> None:
    pid_file = postfix.root / "queue" / "pid" / "master.pid"
    master = int(pid_file.read_text().split()[0]) if pid_file.exists() else None
    with contextlib.suppress(RuntimeError):
        postfix.postfix("stop")
    if master is None:
        return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and process_alive(master):
        time.sleep(0.05)
    if process_alive(master):
        os.kill(master, 9)  # the master we started, and only it


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def require_postfix() -> None:
    if not POSTFIX.exists():
        pytest.skip(
            "Debian's postfix is not installed and could not be (make test installs it with "
            "apt-get): the tests through a real MTA are skipped"
        )
    if os.geteuid() != 0:
        pytest.skip("starting a Postfix instance of the tests' own needs root: skipped")


# -- the pipe's user and what it may reach ---------------------------------------------------


def pipe_user() -> pwd.struct_passwd:
    """The unprivileged user Postfix runs the pipe as (created once; parallel runs agree)."""
    with open(Path(tempfile.gettempdir()) / f"{PIPE_USER}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(PIPE_USER)
        # (No colon in the comment: it is a field of /etc/passwd, and useradd refuses one.)
        run(
            ["useradd", "--system", "--user-group", "--no-create-home",
             "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
             "--comment", "Command Center tests, runs Postfix's pipe", PIPE_USER],
            what=f"useradd {PIPE_USER}",
        )  # fmt: skip
        return pwd.getpwnam(PIPE_USER)


def grant_pipe_access() -> None:
    """Group access for the pipe's user to var/, its secret key and the SQLite database."""
    group = pipe_user().pw_gid
    var = Path(settings.VAR_DIR)
    os.chown(var, -1, group)
    var.chmod(var.stat().st_mode | 0o2070)
    key = var / "secret_key"
    if key.exists():
        os.chown(key, -1, group)
        key.chmod(0o640)
    if connection.vendor == "sqlite":
        database = Path(connection.settings_dict["NAME"])
        os.chown(database.parent, -1, group)
        database.parent.chmod(database.parent.stat().st_mode | 0o2070)
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            if path.exists():
                os.chown(path, -1, group)
                path.chmod(0o660)


def pipe_command(root: Path) -> Path:
    """A `commandcenter` console script that the pipe's user can run."""
    if runs_as_pipe_user([sys.executable, "-c", "import commandcenter.cli"]):
        return SCRIPT
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for python in (f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"):
        if Path(python).exists() and runs_as_pipe_user([python, "-c", "pass"]):
            return venv_for_pipe(root / "pipe-venv", python)
    pytest.fail(
        f"the pipe's user {PIPE_USER} can run neither {sys.executable} nor a system "
        f"python{version}: install python{version} (apt-get install python{version}-venv)"
    )


def venv_for_pipe(venv: Path, python: str) -> Path:
    """A venv of `python` that loads this venv's site-packages, and its console script."""
    run([python, "-m", "venv", "--without-pip", str(venv)], what="python -m venv")
    [site_packages] = (venv / "lib").glob("python*/site-packages")
    ours = sysconfig.get_paths()["purelib"]
    # An "import" line of a .pth file runs: addsitedir also reads the .pth files there
    # (the editable install of commandcenter is one).
    (site_packages / "commandcenter-tests.pth").write_text(
        f"import site; site.addsitedir({ours!r})\n"
    )
    script = venv / "bin" / "commandcenter"
    script.write_text(
        f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom commandcenter.cli import main\n"
        "sys.exit(main())\n"
    )
    script.chmod(0o755)
    if not runs_as_pipe_user([str(venv / "bin" / "python"), "-c", "import commandcenter.cli"]):
        pytest.fail(f"{PIPE_USER} cannot import commandcenter from {ours}")
    return script


def runs_as_pipe_user(argv: list[str]) -> bool:
    user = pipe_user()
    try:
        done = subprocess.run(
            argv, user=user.pw_uid, group=user.pw_gid, extra_groups=[], capture_output=True,
            timeout=60, cwd="/",
        )  # fmt: skip
    except PermissionError:
        return False
    return done.returncode == 0


def pipe_environment(**extra: str) -> dict[str, str]:
    """The environment docs/inbound.md gives the pipe, for the current test database."""
    return {
        "COMMANDCENTER_VAR": str(settings.VAR_DIR),
        "DATABASE_URL": database_url(connection.settings_dict),
        **extra,
    }


# -- what the tests do through it ------------------------------------------------------------


def send_due(postfix: Postfix, bounce_domain: str) -> None:
    """Our worker, once, with EMAIL_URL pointing at Postfix's submission port."""
    done = subprocess.run(
        [str(SCRIPT), "worker", "--once"],
        env=subprocess_env(EMAIL_URL=postfix.url, BOUNCE_DOMAIN=bounce_domain),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "1 email(s) handled" in done.stdout, done.stdout + done.stderr


def queue_id(postfix: Postfix, message_id: str) -> str:
    """Postfix's queue id of the message with this Message-ID."""
    assert message_id, "no Message-ID: the email was not sent (or not read again since)"
    line = postfix.wait_for_log(rf"cleanup\[\d+\]: \w+: message-id={re.escape(message_id)}")
    return line.split(": ")[1]


def wait_for_status(postfix: Postfix, email: Email, status: str, timeout: float = 60) -> Email:
    def moved() -> Email | None:
        email.refresh_from_db()
        return email if email.status == status else None

    return postfix.wait_for(f"email {email.pk} to be {status}", moved, timeout)


def kinds(email: Email) -> list[str]:
    return list(email.events.values_list("kind", flat=True))


def mailbox_path(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{domain}/{local}"


def header(raw: bytes, name: str) -> str:
    return str(BytesHeaderParser().parsebytes(raw).get(name, "")).strip()
