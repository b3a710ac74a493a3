from commandcenter.people.importer import MAX_ROWS, RowError, import_people_csv
from commandcenter.people.models import Person


def messages(report):
    return [(error.line, error.message) for error in report.errors]


def test_it_creates_people_with_their_columns(alice):
    report = import_people_csv(
        alice,
        "Email Address,First Name,Last Name,Company,Job Title,Time Zone,Industry\n"
        "Pat@Prospect.example,Pat,Lee,Acme,CTO,Europe/Paris,Robotics\n",
    )

    assert (report.created, report.updated, report.errors) == (1, 0, [])
    pat = Person.objects.get(owner=alice)
    assert (pat.email, pat.first_name, pat.last_name, pat.company, pat.title) == (
        "pat@prospect.example",
        "Pat",
        "Lee",
        "Acme",
        "CTO",
    )
    assert pat.time_zone == "Europe/Paris"
    assert pat.custom_fields == {"industry": "Robotics"}
    assert report.rows[0]["email"] == "pat@prospect.example"


def test_it_updates_existing_people_with_non_empty_cells_only(alice, bob):
    Person.objects.create(owner=alice, email="Pat@Prospect.example", company="Acme", title="CTO")
    Person.objects.create(owner=bob, email="pat@prospect.example", company="Bob's Acme")

    report = import_people_csv(
        alice,
        "email,company,title,do_not_contact\npat@prospect.example,,CEO,yes\nnew@x.example,,,\n",
    )

    assert (report.created, report.updated, report.errors) == (1, 1, [])
    pat = Person.objects.get(owner=alice, email="Pat@Prospect.example")
    assert (pat.company, pat.title, pat.do_not_contact) == ("Acme", "CEO", True)
    assert Person.objects.get(owner=bob).company == "Bob's Acme"
    assert Person.objects.filter(owner=alice).count() == 2


def test_it_reads_utf8_with_bom_and_semicolons(alice):
    data = "\ufeffE-mail;First_Name;Company\nzoe@firma.example;Zoë;Müller GmbH\n".encode()

    report = import_people_csv(alice, data)

    assert report.errors == []
    zoe = Person.objects.get(owner=alice)
    assert (zoe.email, zoe.first_name, zoe.company) == ("zoe@firma.example", "Zoë", "Müller GmbH")


def test_it_reads_windows_1252(alice):
    data = "email,company\nrene@societe.example,Société Générale\n".encode("cp1252")

    report = import_people_csv(alice, data)

    assert report.errors == []
    assert Person.objects.get(owner=alice).company == "Société Générale"


def test_it_reads_utf16_from_excel(alice):
    report = import_people_csv(alice, "email;company\nana@x.example;Ação\n".encode("utf-16"))

    assert report.errors == []
    assert Person.objects.get(owner=alice).company == "Ação"


def test_it_reads_a_single_column_file(alice):
    report = import_people_csv(alice, "email\na@x.example\nb@x.example\n")

    assert (report.created, report.errors) == (2, [])


def test_it_reports_invalid_and_duplicate_addresses_with_lines_and_writes_nothing(alice):
    report = import_people_csv(
        alice,
        "email,first_name\n"
        "good@x.example,Good\n"
        "not-an-address,Bad\n"
        "\n"
        "GOOD@x.example,Again\n"
        ",Nobody\n",
    )

    assert messages(report) == [
        (3, "'not-an-address' is not a valid email address."),
        (5, "good@x.example is already on line 2."),
        (6, "The email cell is empty."),
    ]
    assert (report.created, report.updated) == (0, 0)
    assert not Person.objects.exists()


def test_it_refuses_a_file_without_an_email_column(alice):
    report = import_people_csv(alice, "name,company\nPat,Acme\n")

    assert report.errors[0].line == 1
    assert "no email column" in report.errors[0].message
    assert not Person.objects.exists()


def test_it_refuses_empty_files(alice):
    assert messages(import_people_csv(alice, b"")) == [(0, "The file is empty.")]
    assert messages(import_people_csv(alice, "\ufeff \n")) == [(0, "The file is empty.")]
    header_only = import_people_csv(alice, "email,company\n")
    assert messages(header_only) == [(0, "The file has a header row but no people.")]


def test_it_refuses_binary_files(alice):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"

    report = import_people_csv(alice, png)

    assert messages(report) == [(0, "This is not a CSV file: it contains binary data.")]


def test_it_refuses_undecodable_bytes(alice):
    report = import_people_csv(alice, b"email\n\x81\x8d@x.example\n")

    assert "neither UTF-8 nor Windows-1252" in report.errors[0].message


def test_it_refuses_broken_csv_quoting(alice):
    report = import_people_csv(alice, 'email,company\na@x.example,"Acme\n')

    assert report.errors[0].line == 2
    assert "not valid CSV" in report.errors[0].message


def test_it_refuses_bad_cells(alice):
    report = import_people_csv(
        alice,
        "email,time_zone,do_not_contact,title\n"
        "a@x.example,Mars/Olympus,,\n"
        "b@x.example,,perhaps,\n"
        f"c@x.example,,,{'T' * 201}\n"
        "d@x.example,,,,extra\n",
    )

    assert [line for line, _ in messages(report)] == [2, 3, 4, 5]
    assert "not a time zone" in report.errors[0].message
    assert "yes or no" in report.errors[1].message
    assert "longer than 200" in report.errors[2].message
    assert "5 cells" in report.errors[3].message
    assert not Person.objects.exists()


def test_it_refuses_a_header_naming_a_column_twice(alice):
    report = import_people_csv(alice, "email,E-mail\na@x.example,b@x.example\n")

    assert report.errors[0].line == 1
    assert "twice" in report.errors[0].message


def test_it_refuses_more_than_the_row_limit_and_writes_nothing(alice):
    rows = "".join(f"p{n}@x.example\n" for n in range(MAX_ROWS + 1))

    report = import_people_csv(alice, "email\n" + rows)

    assert report.errors == [
        RowError(
            MAX_ROWS + 2, f"The file has more than {MAX_ROWS:,} rows; split it into smaller files."
        )
    ]
    assert not Person.objects.exists()


def test_it_imports_the_row_limit_exactly_and_reports_progress(alice):
    rows = "".join(f"p{n}@x.example,Company {n}\n" for n in range(MAX_ROWS))
    calls = []

    report = import_people_csv(
        alice, "email,company\n" + rows, progress=lambda done, total: calls.append((done, total))
    )

    assert (report.created, report.errors) == (MAX_ROWS, [])
    assert Person.objects.filter(owner=alice).count() == MAX_ROWS
    assert calls[0] == (1000, MAX_ROWS)
    assert calls[-1] == (MAX_ROWS, MAX_ROWS)
    assert len(calls) == MAX_ROWS // 1000


def test_it_writes_nothing_on_a_dry_run_but_counts(alice):
    Person.objects.create(owner=alice, email="old@x.example")

    report = import_people_csv(alice, "email\nold@x.example\nnew@x.example\n", dry_run=True)

    assert (report.created, report.updated, report.errors) == (1, 1, [])
    assert Person.objects.filter(owner=alice).count() == 1
