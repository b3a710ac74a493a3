import hashlib

import pytest
from django.core.management import CommandError, call_command

from commandcenter.accounts.models import Team, User
from commandcenter.accounts.tests.commandline import run_script
from commandcenter.api.auth import user_for_token


def test_it_creates_a_user_and_prints_the_token_last(db, capsys):
    call_command("createuser", "carol", "--email", "carol@example.com", "--team", "East")

    token = capsys.readouterr().out.splitlines()[-1]
    carol = User.objects.get(username="carol")
    assert user_for_token(token) == carol
    assert carol.team is not None
    assert (carol.email, carol.team.name, carol.is_admin) == ("carol@example.com", "East", False)
    assert not carol.has_usable_password()


def test_it_creates_an_admin_with_a_password(db):
    call_command("createuser", "dana", "--email", "dana@example.com", "--admin", "--password", "pw")

    dana = User.objects.get(username="dana")
    assert dana.is_admin
    assert dana.check_password("pw")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eve", "--email", "not-an-address"], "valid email"),
        (["alice", "--email", "other@example.com"], "already exists"),
        (["  ", "--email", "x@example.com"], "needs a name"),
        (["bad name!", "--email", "x@example.com", "--team", "NewTeam"], "username"),
    ],
)
def test_it_refuses_bad_input_and_creates_nothing(alice, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("createuser", *args)

    assert list(User.objects.values_list("username", flat=True)) == ["alice"]
    assert not Team.objects.filter(name="NewTeam").exists()


def test_it_stores_a_digest_of_the_token_never_the_token(db, capsys):
    call_command("createuser", "carol", "--email", "carol@example.com")

    token = capsys.readouterr().out.splitlines()[-1]
    stored = User.objects.values_list("api_token_hash", flat=True).get(username="carol")
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored
    assert len(token) >= 43  # 32 random bytes


def test_it_issues_a_new_token_and_the_old_one_stops_working(alice, capsys):
    call_command("token", "alice")
    first = capsys.readouterr()
    call_command("token", "alice")
    second = capsys.readouterr()

    old, new = first.out.splitlines()[-1], second.out.splitlines()[-1]
    assert old != new
    assert user_for_token(new) == alice
    assert user_for_token(old) is None
    assert "Issued a new API token for alice" in second.err
    assert "previous token no longer works" in second.err


def test_it_refuses_a_token_for_nobody(db):
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("token", "nobody")


def test_the_console_script_creates_a_user_and_replaces_the_token(transactional_db):
    created = run_script("createuser", "frank", "--email", "frank@example.com", "--admin")
    first = created.stdout.splitlines()[-1]
    frank = User.objects.get(username="frank")
    assert user_for_token(first) == frank

    replaced = run_script("token", "frank")

    assert (created.returncode, replaced.returncode) == (0, 0), created.stderr + replaced.stderr
    second = replaced.stdout.splitlines()[-1]
    assert user_for_token(second) == frank
    assert user_for_token(first) is None
    assert "previous token no longer works" in replaced.stderr
    assert frank.is_admin


def test_the_console_script_exits_1_with_a_message_on_bad_input(transactional_db):
    result = run_script("createuser", "gina", "--email", "nope")

    assert result.returncode == 1
    assert "valid email" in result.stderr
    assert not User.objects.filter(username="gina").exists()
