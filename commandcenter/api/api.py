"""The JSON API under /api/v1 (django-ninja): token auth, JSON errors, one router per noun."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.urls import URLPattern, URLResolver, re_path
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI

from commandcenter.api import campaigns, emails, errors, people, tasks
from commandcenter.api.auth import BearerToken, viewer
from commandcenter.api.schemas import MeOut, answers
from commandcenter.search import api as search


class CommandCenterApi(NinjaAPI):
    """Ninja, with JSON also for the two answers it gives as HTML or text: 404 and 405."""

    def _get_urls(self) -> list[URLResolver | URLPattern]:
        patterns = super()._get_urls()
        for pattern in patterns:
            if isinstance(pattern, URLPattern):
                pattern.callback = _json_not_allowed(pattern.callback)
        patterns.append(re_path(r"^.*$", unknown_route, name="unknown-route"))
        return patterns


def _json_not_allowed(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # The API speaks one language whatever the client's Accept-Language: its messages
        # are for programs and their logs as much as for people.
        with translation.override("en"):
            response = view(request, *args, **kwargs)
        if response.status_code != 405 or response.get("Content-Type", "").startswith(
            "application/json"
        ):
            return response
        allowed = response.get("Allow", "")
        answer = JsonResponse(
            {"detail": f"{request.method} is not allowed here; allowed: {allowed}."}, status=405
        )
        answer["Allow"] = allowed
        return answer

    return wrapped


@csrf_exempt
def unknown_route(request: HttpRequest) -> HttpResponse:
    return JsonResponse(
        {"detail": f"There is no API route {request.path[:200]}; see /api/v1/docs."}, status=404
    )


api = CommandCenterApi(
    title="Command Center API",
    version="1",
    description=(
        "Send `Authorization: Bearer <token>` (`commandcenter token NAME` issues one). "
        "Admins may add `?as=<username>` (or `X-View-As`) to act as a teammate, or "
        "`?as=team:<team>` for a read-only team view of lists and counts. "
        'Errors are JSON: `{"detail": …, "errors"?: {field: message}}`.'
    ),
    auth=BearerToken(),
    parser=errors.JsonParser(),
    urls_namespace="api",
)
errors.install(api)
api.add_router("", emails.router)
api.add_router("", people.router)
api.add_router("", tasks.router)
api.add_router("", campaigns.router)
api.add_router("", search.router)


@api.get(
    "/me",
    response=answers({200: MeOut}),
    tags=["account"],
    summary="Who am I, and whom may I view as",
)
def me(request: HttpRequest) -> dict[str, Any]:
    current = viewer(request)
    user = current.user
    return {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "name": user.display_name,
        "team": user.team.name if user.team else None,
        "is_admin": user.is_admin,
        "viewing_as": current.label,
        "can_view_as": list(
            user.viewable_users().order_by("username").values_list("username", flat=True)
        ),
    }
