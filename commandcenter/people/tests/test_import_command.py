import pytest
from django.core.management import CommandError, call_command

from commandcenter.accounts.tests.commandline import run_script
from commandcenter.people.models import Person


@pytest.fixture
def people_csv(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("email,first_name,company\npat@x.example,Pat,Acme\nlee@x.example,Lee,\n")
    return path


def test_it_imports_a_file_for_a_user(alice, people_csv, capsys):
    call_command("import_people", str(people_csv), "--user", "alice")

    assert Person.objects.filter(owner=alice).count() == 2
    out, err = capsys.readouterr()
    assert "2 people were created and 0 were updated." in out
    assert "checked 2 of 2 rows" in err


def test_it_checks_without_writing_on_a_dry_run(alice, people_csv, capsys):
    call_command("import_people", str(people_csv), "--user", "alice", "--dry-run")

    assert not Person.objects.exists()
    assert "2 people would be created" in capsys.readouterr().out


def test_it_reports_each_bad_row_and_imports_nothing(alice, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("email\ngood@x.example\nbad-one\ngood@x.example\n")

    with pytest.raises(CommandError, match="2 error"):
        call_command("import_people", str(path), "--user", "alice")

    err = capsys.readouterr().err
    assert "line 3: 'bad-one' is not a valid email address." in err
    assert "line 4: good@x.example is already on line 2." in err
    assert not Person.objects.exists()


def test_it_refuses_an_unknown_user_or_a_missing_file(alice, people_csv, tmp_path):
    with pytest.raises(CommandError, match="No user named 'zed'"):
        call_command("import_people", str(people_csv), "--user", "zed")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_people", str(tmp_path / "missing.csv"), "--user", "alice")


def test_the_console_script_imports_and_fails_with_exit_1(transactional_db, people_csv, tmp_path):
    from commandcenter.accounts.services import create_user

    alice = create_user("alice", email="alice@example.com")
    bad = tmp_path / "bad.csv"
    bad.write_text("name\nPat\n")

    ok = run_script("import-people", str(people_csv), "--user", "alice")
    refused = run_script("import-people", str(bad), "--user", "alice")

    assert ok.returncode == 0, ok.stderr
    assert Person.objects.filter(owner=alice).count() == 2
    assert refused.returncode == 1
    assert "line 1: The header row has no email column" in refused.stderr
