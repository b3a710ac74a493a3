"""Who is calling: the bearer token, and whose data they see (admins may "view as").

`?as=<username>` (or the header `X-View-As`) lets an admin act as a teammate: read and
write that user's data. `?as=team:<team name>` is a read-only view over the whole team,
for lists and counts. Anyone else asking, or asking about another team, gets a 403.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import cast

from django.http import HttpRequest
from ninja.errors import AuthorizationError, HttpError
from ninja.security import HttpBearer

from commandcenter.accounts.models import User, api_token_digest
from commandcenter.api.errors import text_problem

# Tokens are secrets.token_urlsafe(): anything else is not one of ours, and never reaches SQL.
TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
TEAM_PREFIX = "team:"


@dataclass(frozen=True)
class Viewer:
    """The caller (`user`), whose data writes go to (`acting`), whose data reads see."""

    user: User
    acting: User | None  # None in a team view: it is read-only
    owner_ids: tuple[int, ...]
    label: str

    def writer(self) -> User:
        if self.acting is None:
            raise AuthorizationError(
                message="A team view is read-only; to change data, act as one user: ?as=<username>."
            )
        return self.acting


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Viewer | None:
        user = user_for_token(token)
        if user is None:
            return None
        return viewer_for(user, requested_view(request))


def user_for_token(token: str) -> User | None:
    token = token.strip()
    if not TOKEN.fullmatch(token):
        return None
    # Looked up by digest: how long the database takes to compare digests tells nothing
    # about the token that would make one.
    digest = api_token_digest(token)
    return User.objects.select_related("team").filter(api_token_hash=digest, is_active=True).first()


def requested_view(request: HttpRequest) -> str:
    """The `as` query parameter or the X-View-As header ('' when neither is given)."""
    from_query = request.GET.get("as", "").strip()
    from_header = request.headers.get("X-View-As", "").strip()
    if from_query and from_header and from_query != from_header:
        raise HttpError(400, "?as= and X-View-As name different users; send one of them.")
    wanted = from_query or from_header
    problem = text_problem(wanted)
    if problem:
        raise HttpError(400, f"The user to view as {problem}.")
    return wanted


def viewer_for(user: User, wanted: str) -> Viewer:
    if not wanted or wanted == user.username:
        return Viewer(user, user, (user.pk,), user.username)
    if wanted.startswith(TEAM_PREFIX):
        return _team_view(user, wanted.removeprefix(TEAM_PREFIX))
    other = User.objects.filter(username=wanted, is_active=True).first()
    # One answer for "no such user" and "not yours to see": names of other teams stay private.
    if other is None or not user.can_view_as(other):
        raise AuthorizationError(message=f"You may not view as {wanted[:150]!r}.")
    return Viewer(user, other, (other.pk,), other.username)


def _team_view(user: User, team_name: str) -> Viewer:
    if not (user.is_admin and user.team is not None and user.team.name == team_name):
        raise AuthorizationError(
            message=f"Only an admin of team {team_name[:150]!r} may view it as a team."
        )
    owner_ids = tuple(user.viewable_users().order_by("pk").values_list("pk", flat=True))
    return Viewer(user, None, owner_ids, TEAM_PREFIX + team_name)


def viewer(request: HttpRequest) -> Viewer:
    """The Viewer that BearerToken put on the request (every route requires it)."""
    return cast(Viewer, request.auth)  # type: ignore[attr-defined]
