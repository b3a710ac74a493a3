import pytest

from commandcenter.outbox.merge import MissingMergeField, fields_in, render
from commandcenter.people.models import Person


@pytest.fixture
def pat(alice):
    return Person.objects.create(
        owner=alice,
        email="pat@acme.example",
        first_name="Pat",
        company="Acme",
        custom_fields={"industry": "Rockets", "empty": ""},
    )


def test_it_fills_known_fields(alice, pat):
    alice.first_name, alice.last_name, alice.signature = "Alice", "Smith", "-- Alice"

    text = render("Hi {{first_name}} at {{ company }}, {{my_name}} {{my_signature}}", pat, alice)

    assert text == "Hi Pat at Acme, Alice Smith -- Alice"


def test_it_blanks_missing_names_and_title_and_defaults_company(alice):
    person = Person(owner=alice, email="x@y.example")

    assert render("[{{first_name}}|{{last_name}}|{{title}}|{{company}}]", person, alice) == (
        "[|||your company]"
    )


def test_it_fills_custom_fields(alice, pat):
    assert render("{{industry}}", pat, alice) == "Rockets"


@pytest.mark.parametrize("field", ["empty", "unknown_field"])
def test_it_refuses_a_field_that_cannot_be_filled_and_names_it(alice, pat, field):
    with pytest.raises(MissingMergeField) as caught:
        render("Hello {{" + field + "}}", pat, alice)

    assert caught.value.fields == [field]
    assert "{{" + field + "}}" in str(caught.value)


def test_it_escapes_values_in_html(alice, pat):
    pat.company = "<script>alert(1)</script>"

    assert render("{{company}}", pat, alice, html_escape=True) == (
        "&lt;script&gt;alert(1)&lt;/script&gt;"
    )


def test_it_lists_fields_once_in_order():
    assert fields_in("{{a}} {{b}}", "{{a}} {{ c }}") == ["a", "b", "c"]
