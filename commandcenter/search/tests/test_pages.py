"""The search pages: builder URL, results, saved searches, sidebar, Most Engaged, actions."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client

from commandcenter.accounts.models import User
from commandcenter.search.models import SavedSearch
from commandcenter.search.tests.conftest import engaged, streamed
from commandcenter.search.tests.test_search_api import VIEWED_CLICKED_NO_REPLY
from commandcenter.search.views import search_url


def signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


@pytest.fixture
def outbox(alice: User) -> None:
    engaged(alice, "clicked@a.example", opens=1, clicks=1)
    engaged(alice, "viewed@a.example", opens=1)
    engaged(alice, "replied@a.example", opens=1, clicks=1, replies=1)


def test_the_page_url_carries_the_filter_and_shows_its_results(client, alice, outbox):
    page = signed_in(client, alice).get(search_url(VIEWED_CLICKED_NO_REPLY))
    assert page.status_code == 200
    html = page.content.decode()
    assert "clicked@a.example" in html
    assert "viewed@a.example" not in html and "replied@a.example" not in html
    assert 'id="search-fields"' in html  # the builder's field table


def test_a_bad_filter_in_the_url_says_what_is_wrong(client, alice):
    page = signed_in(client, alice).get("/search/?f=" + json.dumps({"all": [{"field": "x"}]}))
    assert page.status_code == 200
    assert "Unknown field" in page.content.decode()


def test_it_saves_a_search_and_marks_rows_that_joined_later(client, alice, outbox):
    signed_in(client, alice)
    answer = client.post(
        "/search/save/",
        {"name": "Hot", "f": json.dumps(VIEWED_CLICKED_NO_REPLY), "results": "emails"},
    )
    saved = SavedSearch.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/search/saved/{saved.pk}/"
    first = client.get(f"/search/saved/{saved.pk}/").content.decode()
    assert "clicked@a.example" in first and 'class="new"' not in first
    engaged(alice, "later@a.example", opens=2, clicks=1)
    later = client.get(f"/search/saved/{saved.pk}/").content.decode()
    assert later.count('class="new"') == 1
    sidebar = client.get("/search/sidebar/").content.decode()
    assert f'data-saved-count="{saved.pk}">2<' in sidebar


def test_only_the_owner_renames_shares_or_deletes(client, alice, bob, outbox):
    signed_in(client, alice)
    client.post("/search/save/", {"name": "Hot", "f": json.dumps(VIEWED_CLICKED_NO_REPLY)})
    saved = SavedSearch.objects.get()
    client.post(f"/search/saved/{saved.pk}/change/", {"action": "rename", "name": "Warm"})
    client.post(f"/search/saved/{saved.pk}/change/", {"action": "share", "shared": "on"})
    saved.refresh_from_db()
    assert (saved.name, saved.shared) == ("Warm", True)
    bobs = Client()
    signed_in(bobs, bob)
    assert bobs.get(f"/search/saved/{saved.pk}/").status_code == 200  # shared: readable
    assert bobs.post(f"/search/saved/{saved.pk}/change/", {"action": "delete"}).status_code == 404
    client.post(f"/search/saved/{saved.pk}/change/", {"action": "delete"})
    assert not SavedSearch.objects.exists()


def test_the_forms_need_csrf(alice):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post("/search/save/", {"name": "x"}).status_code == 403


def test_most_engaged_is_one_click_from_the_command_center(client, alice, outbox):
    signed_in(client, alice)
    command_center = client.get("/folders/delivered/").content.decode()
    assert 'href="/search/most-engaged/"' in command_center
    ranked = client.get("/search/most-engaged/?results=emails", follow=True).content.decode()
    order = [ranked.index(to) for to in ("replied@a.example", "clicked@a.example", "viewed@a")]
    assert order == sorted(order)


def test_follow_up_opens_select_and_send_with_the_chosen_people(client, alice, outbox):
    signed_in(client, alice)
    url = search_url({"all": [{"field": "opens", "op": "gte", "value": 1}]})
    answer = client.post(
        "/search/follow-up/", {"f": parse_qs(urlparse(url).query)["f"][0], "scope": "all"}
    )
    assert answer.status_code == 302
    target = urlparse(answer["Location"])
    assert target.path == "/compose/bulk/"
    assert len(parse_qs(target.query)["person"]) == 3
    compose = client.get(answer["Location"]).content.decode()
    assert "clicked@a.example" in compose


def test_csv_export_of_the_selection(client, alice, outbox):
    from commandcenter.outbox.models import Email

    signed_in(client, alice)
    chosen = Email.objects.get(to_address="viewed@a.example")
    answer = client.post("/search/export.csv", {"f": "", "ids": [chosen.pk]})
    lines = streamed(answer).decode().splitlines()
    assert len(lines) == 2 and "viewed@a.example" in lines[1]


def test_pages_need_sign_in(client):
    assert client.get("/search/").status_code == 302
    assert client.get("/search/feed/").status_code == 403


def test_the_pages_speak_simplified_chinese(client, alice, outbox):
    alice.language = "zh-hans"
    alice.save()
    signed_in(client, alice)
    html = client.get(search_url(VIEWED_CLICKED_NO_REPLY)).content.decode()
    for text in ("高级搜索", "已保存的搜索", "实时动态", "保存搜索", "最活跃"):
        assert text in html, text
    builder = html.split('id="search-fields" type="application/json">')[1].split("</script>")[0]
    assert json.loads(builder)["text"]["all"] == "全部满足"
    assert json.loads(builder)["fields"]["opens"]["label"] == "查看"
    assert "最活跃" in client.get("/folders/delivered/").content.decode()
