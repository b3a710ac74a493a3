"""`commandcenter imap-account add|list|remove`: the operator's side of IMAP polling."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from commandcenter.accounts.models import User
from commandcenter.signals.models import ImapAccount


def add(*extra: str) -> None:
    call_command("imap_account", "add", "--host", "imap.example.com", *extra)


def test_it_adds_an_account_with_the_password_from_a_file(alice: User, tmp_path: Path) -> None:
    secret = tmp_path / "alice-imap"
    secret.write_text("s3cret pass\nignored second line\n")
    add("--user", "alice", "--username", "alice@example.com", "--password-file", str(secret))
    account = ImapAccount.objects.get()
    assert (account.user, account.username, account.password) == (
        alice,
        "alice@example.com",
        "s3cret pass",
    )
    assert (account.port, account.ssl, account.folder) == (993, True, "INBOX")


def test_it_adds_a_plain_account_with_the_password_from_the_environment(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALICE_IMAP_PASSWORD", "from-env")
    add(
        "--user", "alice", "--username", "alice", "--password-env", "ALICE_IMAP_PASSWORD",
        "--no-ssl", "--folder", "Bounces",
    )  # fmt: skip
    account = ImapAccount.objects.get()
    assert (account.password, account.port, account.ssl, account.folder) == (
        "from-env",
        143,
        False,
        "Bounces",
    )


def test_it_refuses_a_password_on_the_command_line(alice: User) -> None:
    with pytest.raises(CommandError):
        add("--user", "alice", "--username", "alice", "--password", "visible-in-ps")
    assert not ImapAccount.objects.exists()


@pytest.mark.parametrize(
    ("user", "secret_args", "message"),
    [
        ("nobody", ("--password-env", "SET_PASSWORD"), "no user named 'nobody'"),
        ("alice", ("--password-env", "UNSET_PASSWORD"), "UNSET_PASSWORD holds no password"),
        ("alice", ("--password-file", "/nonexistent/secret"), "cannot read the password file"),
        ("alice", (), "one of the arguments --password-file --password-env is required"),
    ],
)
def test_it_refuses_bad_input_and_adds_nothing(
    alice: User, monkeypatch: pytest.MonkeyPatch, user: str, secret_args: tuple, message: str
) -> None:
    monkeypatch.setenv("SET_PASSWORD", "x")
    monkeypatch.delenv("UNSET_PASSWORD", raising=False)
    with pytest.raises(CommandError, match=message):
        add("--user", user, "--username", "alice", *secret_args)
    assert not ImapAccount.objects.exists()


def test_it_refuses_a_port_out_of_range(alice: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SET_PASSWORD", "x")
    with pytest.raises(CommandError, match="--port"):
        add("--user", "alice", "--username", "a", "--password-env", "SET_PASSWORD", "--port", "0")
    assert not ImapAccount.objects.exists()


def test_it_lists_accounts_without_their_passwords(
    alice: User, bob: User, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("imap_account", "list")
    assert capsys.readouterr().out.strip() == "no IMAP accounts"
    ImapAccount.objects.create(user=alice, host="imap.a.test", username="al", password="pw-a")
    ImapAccount.objects.create(
        user=bob, host="imap.b.test", username="bo", password="pw-b", last_error="login refused"
    )
    call_command("imap_account", "list")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "alice" in lines[0] and "al@imap.a.test:993/INBOX (ssl)" in lines[0]
    assert "polled -" in lines[0]
    assert "bob" in lines[1] and "error: login refused" in lines[1]
    assert not any("pw-" in line for line in lines)


def test_it_removes_an_account_and_says_when_there_is_none(
    alice: User, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = ImapAccount.objects.create(user=alice, host="h", username="u", password="p")
    gone = ImapAccount.objects.create(user=alice, host="h2", username="u", password="p")
    call_command("imap_account", "remove", str(gone.pk))
    assert capsys.readouterr().out.strip() == f"removed account {gone.pk}"
    assert list(ImapAccount.objects.all()) == [kept]
    with pytest.raises(CommandError, match=f"no IMAP account {gone.pk}"):
        call_command("imap_account", "remove", str(gone.pk))
    assert list(ImapAccount.objects.all()) == [kept]
