from __future__ import annotations

import re

from pytest_django import DjangoAssertNumQueries

from commandcenter.accounts.models import User
from commandcenter.outbox.models import Email
from commandcenter.tracking.instrument import (
    instrument,
    instrument_many,
    unsubscribe_headers,
    unsubscribe_url,
)
from commandcenter.tracking.models import TrackedLink
from commandcenter.tracking.tests.conftest import delivered_email

CLICK = re.compile(r"https://cc\.example\.net/t/c/([A-Za-z0-9_-]+)")


def recorded(email: Email) -> dict[str, str]:
    return dict(TrackedLink.objects.filter(email=email).values_list("token", "url"))


def test_it_rewrites_every_http_link_of_the_html_and_records_its_url(email: Email) -> None:
    html, _ = instrument(email, email.body_html, "")
    tokens = CLICK.findall(html)
    assert len(tokens) == 2
    links = recorded(email)
    # The &amp; entity in the attribute is the URL's "&".
    assert [links[t] for t in tokens] == [
        "https://example.com/pricing?a=1&b=2",
        "https://example.com/demo",
    ]
    assert "example.com" not in html
    assert ">pricing</a>" in html and ">the demo</a>" in html


def test_it_rewrites_the_links_of_the_text_part_and_keeps_the_punctuation(email: Email) -> None:
    _, text = instrument(email, "", email.body_text)
    tokens = CLICK.findall(text)
    links = recorded(email)
    assert [links[t] for t in tokens] == [
        "https://example.com/pricing?a=1&b=2",
        "https://example.com/demo",
    ]
    assert text.startswith("Hi Pat, see https://cc.example.net/t/c/")
    assert text.endswith(".")


def test_it_leaves_mailto_tel_relative_and_unsubscribe_links_alone(email: Email) -> None:
    body = (
        '<p><a href="mailto:rep@example.com">mail</a> <a href="tel:+15550100">call</a>'
        ' <a href="/relative/page">rel</a> <a href="#top">top</a>'
        f' <a href="{unsubscribe_url(email)}">unsubscribe</a>'
        ' <a href="https://prefs.example.com/unsubscribe?id=7">preferences</a></p>'
    )
    html, text = instrument(email, body, "Call tel:+15550100 or mailto:rep@example.com")
    assert html.startswith(body)  # only the pixel is added
    assert text == "Call tel:+15550100 or mailto:rep@example.com"
    assert recorded(email) == {}


def test_it_keeps_the_rest_of_the_document_byte_for_byte(email: Email) -> None:
    body = (
        "<!DOCTYPE html>\r\n<html><head><style>a{color:red}</style></head>\r\n<BODY>"
        "<p title='x &amp; y'>caf&eacute; &lt;b&gt;</p>\r\n"
        '<A HREF="https://example.com/x" class=btn>X</A><!-- comment --></BODY></html>'
    )
    html, _ = instrument(email, body, "")
    token = CLICK.findall(html)[0]
    expected = body.replace(
        '<A HREF="https://example.com/x" class=btn>',
        f'<a href="https://cc.example.net/t/c/{token}" class="btn">',
    ).replace("</BODY>", f"{pixel_tag(email)}</BODY>")
    assert html == expected


def pixel_tag(email: Email) -> str:
    return (
        f'<img src="https://cc.example.net/t/o/{email.token}.gif" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0" />'
    )


def test_it_adds_the_pixel_before_the_end_of_the_body_or_at_the_end(email: Email) -> None:
    html, _ = instrument(email, "<p>no body tag</p>", "")
    assert html == "<p>no body tag</p>" + pixel_tag(email)
    html, text = instrument(email, "", "plain only")
    assert (html, text) == ("", "plain only")


def test_it_escapes_what_it_writes_back_into_attributes(email: Email) -> None:
    body = '<a href="https://example.com/" title="&quot;&gt;<script>">x</a>'
    html, _ = instrument(email, body, "")
    assert "<script>" not in html
    assert 'title="&quot;&gt;&lt;script&gt;"' in html


def test_it_reuses_the_links_recorded_when_the_email_is_sent_again(email: Email) -> None:
    first, _ = instrument(email, email.body_html, "")
    again, _ = instrument(email, email.body_html, "")
    assert first == again
    assert TrackedLink.objects.filter(email=email).count() == 2


def test_it_gives_each_link_an_unguessable_token(email: Email) -> None:
    instrument(email, email.body_html, email.body_text)
    tokens = list(recorded(email))
    assert len(set(tokens)) == 4
    assert all(len(token) >= 24 for token in tokens)


def test_it_builds_the_unsubscribe_headers_of_rfc_8058(email: Email) -> None:
    headers = unsubscribe_headers(email)
    assert headers == {
        "List-Unsubscribe": (
            f"<mailto:unsubscribe+{email.token}@bounces.example.net>, "
            f"<https://cc.example.net/t/u/{email.token}>"
        ),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_it_instruments_a_group_with_one_select_and_one_insert(
    alice: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    emails = [delivered_email(alice, to=f"p{n}@example.org") for n in range(3)]
    # The first one was sent before: its links are reused, the others get new ones.
    earlier, _ = instrument(emails[0], emails[0].body_html, "")

    with django_assert_num_queries(2):
        out = instrument_many([(email, email.body_html, email.body_text) for email in emails])

    assert out[0][0] == earlier
    for email, (html, text) in zip(emails, out, strict=True):
        tokens = CLICK.findall(html) + CLICK.findall(text)
        links = recorded(email)
        assert [links[t] for t in tokens] == [
            "https://example.com/pricing?a=1&b=2",
            "https://example.com/demo",
        ] * 2
        assert pixel_tag(email) in html
    # Two links per part (the text part's reuse none of the HTML's), each email its own.
    assert [TrackedLink.objects.filter(email=e).count() for e in emails] == [4, 4, 4]
    assert len(set(CLICK.findall(out[1][0])) & set(CLICK.findall(out[2][0]))) == 0


def test_emails_of_a_group_with_the_same_html_each_get_their_own_links_and_pixel(
    alice: User,
) -> None:
    other = "<p>See <a href='https://example.com/other'>this</a></p></body>"
    group = [delivered_email(alice, to=f"p{n}@example.org") for n in range(4)]
    bodies = [group[0].body_html, other, group[0].body_html, other]
    references = [delivered_email(alice, to=f"r{n}@example.org") for n in range(2)]
    alone = [instrument(e, body, "")[0] for e, body in zip(references, bodies, strict=False)]

    items = [(email, body, "") for email, body in zip(group, bodies, strict=True)]
    out = [html for html, _ in instrument_many(items)]

    def shape(html: str) -> str:
        return CLICK.sub("CLICK", re.sub(r"/t/o/[^.]+\.gif", "/t/o/PIXEL.gif", html))

    assert [shape(html) for html in out] == [shape(html) for html in alone] * 2
    for email, html in zip(group, out, strict=True):
        assert pixel_tag(email) in html
        assert set(CLICK.findall(html)) <= set(recorded(email))
    assert set(CLICK.findall(out[0])).isdisjoint(CLICK.findall(out[2]))
