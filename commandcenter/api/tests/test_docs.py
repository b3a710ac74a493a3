"""The OpenAPI document and the docs page, served from our own static files (no CDN)."""

from __future__ import annotations

import re

from django.contrib.staticfiles import finders
from django.test import Client

from commandcenter.accounts.models import User


def test_it_serves_the_openapi_document_with_the_design_routes(client: Client, db: None) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    paths = document["paths"]
    for path, method in [
        ("/api/v1/emails", "post"),
        ("/api/v1/emails/bulk", "post"),
        ("/api/v1/emails", "get"),
        ("/api/v1/emails/{email_id}", "get"),
        ("/api/v1/emails/{email_id}", "patch"),
        ("/api/v1/emails/{email_id}", "delete"),
        ("/api/v1/emails/{email_id}/archive", "post"),
        ("/api/v1/emails/{email_id}/unarchive", "post"),
        ("/api/v1/emails/{email_id}/retry", "post"),
        ("/api/v1/folders", "get"),
        ("/api/v1/batches/{batch_id}", "get"),
        ("/api/v1/people", "post"),
        ("/api/v1/people", "get"),
        ("/api/v1/people/{person_id}", "get"),
        ("/api/v1/people/{person_id}", "patch"),
        ("/api/v1/people/import", "post"),
        ("/api/v1/me", "get"),
    ]:
        assert method in paths.get(path, {}), (path, method)
    schemes = document["components"]["securitySchemes"]
    assert any(scheme.get("scheme") == "bearer" for scheme in schemes.values())
    email = document["components"]["schemas"]["EmailOut"]["properties"]
    assert {"id", "status", "reason", "to", "subject", "send_at", "sent_at", "message_id"} <= set(
        email
    )


def test_it_serves_the_docs_page_without_a_cdn(client: Client, db: None) -> None:
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(src.endswith("swagger-ui-bundle.js") for src in sources)
    assert all(not src.startswith(("http://", "https://", "//")) for src in sources), sources
    for src in sources:
        if src.startswith("/static/"):
            assert finders.find(src.removeprefix("/static/")), src


def test_it_needs_no_token_for_the_docs_but_does_for_data(client: Client, alice: User) -> None:
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/folders").status_code == 401
