"""`imap-poll` against a real Dovecot, started here with its own configuration on a free port.

Debian's dovecot-imapd refuses to run its login process as root, so the configuration points
default_login_user/default_internal_user at the package's own dovenull/dovecot users; the
mail itself belongs to the dovecot user, in a Maildir the test writes messages into.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command

from commandcenter.accounts.models import User
from commandcenter.outbox.states import Status
from commandcenter.signals.imap import poll_account
from commandcenter.signals.models import ImapAccount, InboundMessage
from commandcenter.signals.tests.factories import delivered_email, dsn, reply

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
PASSWORD = "imap-secret"

CONFIG = """
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# No slowing down after a wrong password: one test tries one on purpose.
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/mail/%u
}}
mail_location = maildir:{root}/mail/%u/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


@dataclass
class Dovecot:
    root: Path
    port: int

    def deliver(self, user: str, raw: bytes, folder: str = "") -> None:
        """Put a message in the user's Maildir (INBOX, or a Maildir++ sub-folder), as a local
        delivery agent would."""
        maildir = self.root / "mail" / user / "Maildir"
        if folder:
            maildir = maildir / f".{folder}"
        for sub in ("tmp", "new", "cur"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        name = f"{time.time():.6f}.{uuid.uuid4().hex}.test"
        (maildir / "tmp" / name).write_bytes(raw)
        os.replace(maildir / "tmp" / name, maildir / "new" / name)
        owner = pwd.getpwnam("dovecot")
        for path in [self.root / "mail", *(self.root / "mail").rglob("*")]:
            os.chown(path, owner.pw_uid, owner.pw_gid)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"dovecot did not listen on port {port}")


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    if not Path(DOVECOT).exists():
        pytest.fail("dovecot is not installed: apt-get install dovecot-imapd")
    root = Path(tempfile.mkdtemp(prefix="cc-dovecot-"))
    root.chmod(0o755)  # the dovecot user must reach its mail below it
    server = Dovecot(root, free_port())
    (root / "passwd").write_text(f"alice:{{PLAIN}}{PASSWORD}::::::\n")
    (root / "dovecot.conf").write_text(CONFIG.format(root=root, port=server.port))
    (root / "mail").mkdir()
    config = str(root / "dovecot.conf")
    subprocess.run([DOVECOT, "-c", config], check=True, timeout=30)
    try:
        wait_for(server.port)
        yield server
    finally:
        # SIGTERM to the master (started by us): it takes its children down with it.
        master = int((root / "run" / "master.pid").read_text().split()[0])
        os.kill(master, signal.SIGTERM)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def account(alice: User, dovecot: Dovecot) -> ImapAccount:
    # Each test reads its own folder of alice's mailbox, so tests do not see each other's mail.
    return ImapAccount.objects.create(
        user=alice,
        host="127.0.0.1",
        port=dovecot.port,
        username="alice",
        password=PASSWORD,
        ssl=False,
        folder="INBOX",
    )


def test_it_applies_new_messages_once_and_remembers_where_it_stopped(
    alice: User, dovecot: Dovecot, account: ImapAccount
) -> None:
    first = delivered_email(alice, to="first@example.org")
    second = delivered_email(alice, to="second@example.org")
    dovecot.deliver("alice", reply(first, body="Thursday works."))
    dovecot.deliver("alice", dsn(second, with_verp=False))

    result = poll_account(account)
    assert (result.applied, result.error) == (2, "")
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.replies == 1
    assert second.status == Status.BOUNCED

    again = poll_account(ImapAccount.objects.get(pk=account.pk))
    assert again.applied == 0
    first.refresh_from_db()
    assert first.replies == 1
    assert InboundMessage.objects.filter(source=f"imap:{account.pk}").count() == 2

    dovecot.deliver("alice", reply(first, body="And bring the contract."))
    account.refresh_from_db()
    assert poll_account(account).applied == 1
    first.refresh_from_db()
    assert first.replies == 2


def test_it_runs_as_the_command_with_once(
    dovecot: Dovecot, account: ImapAccount, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("imap_poll", "--once")
    assert capsys.readouterr().out.startswith(f"account {account.pk}: ")


def test_it_records_a_refused_login_on_the_account(dovecot: Dovecot, account: ImapAccount) -> None:
    ImapAccount.objects.filter(pk=account.pk).update(password="wrong")
    account.refresh_from_db()
    result = poll_account(account)
    assert result.applied == 0
    assert "error" in result.error.lower()
    account.refresh_from_db()
    assert account.last_error == result.error and account.last_polled_at is not None


def test_it_polls_an_account_added_by_the_operator_command(
    alice: User, dovecot: Dovecot, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "imap-password"
    secret.write_text(PASSWORD + "\n")
    call_command(
        "imap_account", "add", "--user", "alice", "--host", "127.0.0.1",
        "--port", str(dovecot.port), "--username", "alice", "--password-file", str(secret),
        "--no-ssl", "--folder", "Operator",
    )  # fmt: skip
    account = ImapAccount.objects.get()
    email = delivered_email(alice, to="operator@example.org")
    # Its own folder: INBOX holds the other tests' mail, whose emails had the same ids.
    dovecot.deliver("alice", reply(email, body="Sounds good."), folder="Operator")
    result = poll_account(account)
    assert (result.applied, result.error) == (1, "")
    email.refresh_from_db()
    assert email.replies == 1
