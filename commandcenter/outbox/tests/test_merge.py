import pytest

from commandcenter.outbox.merge import (
    MissingMergeField,
    fields_in,
    missing_fields,
    render,
    render_for,
)
from commandcenter.outbox.models import MergeDefault
from commandcenter.people.models import Person


@pytest.fixture
def pat(alice):
    return Person.objects.create(
        owner=alice,
        email="pat@acme.example",
        first_name="Pat",
        company="Acme",
        custom_fields={"industry": "Rockets", "empty": "", "flag": True},
    )


def test_it_fills_known_fields(alice, pat):
    alice.first_name, alice.last_name, alice.signature = "Alice", "Smith", "-- Alice"

    text = render("Hi {{first_name}} at {{ company }}, {{my_name}} {{my_signature}}", pat, alice)

    assert text == "Hi Pat at Acme, Alice Smith -- Alice"


def test_it_fills_custom_fields(alice, pat):
    assert render("{{industry}}", pat, alice) == "Rockets"


@pytest.mark.parametrize("field", ["empty", "unknown_field", "last_name", "title", "flag"])
def test_it_refuses_a_field_that_would_come_out_empty_and_names_it_and_the_person(
    alice, pat, field
):
    with pytest.raises(MissingMergeField) as caught:
        render("Hello {{" + field + "}}", pat, alice)

    assert caught.value.fields == [field]
    assert caught.value.people == ["pat@acme.example"]
    assert "{{" + field + "}}" in str(caught.value) and "pat@acme.example" in str(caught.value)


def test_an_address_that_is_not_yet_a_person_gets_no_blank_greeting(alice):
    stranger = Person(owner=alice, email="new@x.example")

    with pytest.raises(MissingMergeField, match="first_name"):
        render_for(alice, stranger, "Hi {{first_name}}", "Hello {{first_name}},")


def test_a_fallback_in_the_template_fills_an_empty_field(alice):
    stranger = Person(owner=alice, email="new@x.example")

    rendered = render_for(
        alice, stranger, "Hi {{ first_name | there }}", "{{company|your team}}; {{title|}}."
    )

    assert (rendered.subject, rendered.body_text) == ("Hi there", "your team; .")


def test_the_persons_value_wins_over_the_fallback(alice, pat):
    assert render("Hi {{first_name | there}}", pat, alice) == "Hi Pat"


def test_the_reps_default_fills_a_field_the_person_leaves_empty(alice):
    MergeDefault.objects.create(owner=alice, field="first_name", value="friend")
    stranger = Person(owner=alice, email="new@x.example")

    assert render("Hi {{first_name}}", stranger, alice) == "Hi friend"
    # The template's own fallback is more specific than the rep's default.
    assert render("Hi {{first_name | there}}", stranger, alice) == "Hi there"


def test_another_reps_default_does_not_count(alice, bob):
    MergeDefault.objects.create(owner=bob, field="first_name", value="friend")

    with pytest.raises(MissingMergeField):
        render("Hi {{first_name}}", Person(owner=alice, email="a@x.example"), alice)


def test_it_reads_the_defaults_only_when_a_field_is_empty(alice, pat, django_assert_num_queries):
    with django_assert_num_queries(0):
        render_for(alice, pat, "Hi {{first_name}}", "{{industry}}")
    with django_assert_num_queries(1):
        missing_fields(pat, alice, "{{nothing}}")


def test_it_escapes_values_in_html_and_keeps_their_line_breaks(alice, pat):
    pat.company = "<script>alert(1)</script>"
    alice.signature = "Alice\nSales"

    assert render("{{company}}", pat, alice, html_escape=True) == (
        "&lt;script&gt;alert(1)&lt;/script&gt;"
    )
    assert render("{{my_signature}}", pat, alice, html_escape=True) == "Alice<br>\nSales"


def test_it_keeps_a_subject_on_one_line(alice, pat):
    pat.company = "Acme\r\nBcc: x@y.example"

    assert render_for(alice, pat, "About {{company}}").subject == "About Acme Bcc: x@y.example"


def test_it_lists_fields_once_in_order():
    assert fields_in("{{a}} {{b|x}}", "{{a}} {{ c }}") == ["a", "b", "c"]
