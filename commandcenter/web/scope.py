"""Whose emails a page shows: the signed-in user's, or (admins) a teammate's or the whole team's.

The choice lives in the session and is checked against `User.can_view_as` on every request,
so a stale or forged value falls back to the user's own data.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.utils.translation import gettext as _

from commandcenter.accounts.models import User

SESSION_KEY = "view_as"
WHOLE_TEAM = "team"


@dataclass(frozen=True)
class Scope:
    owner_ids: tuple[int, ...]
    label: str
    # Viewing someone else's emails is for looking: actions and edits stay on one's own.
    is_own: bool
    choice: str


def signed_in_user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User), "views using the scope are login_required"
    return user


def scope_for(request: HttpRequest) -> Scope:
    user = signed_in_user(request)
    choice = str(request.session.get(SESSION_KEY, ""))
    if choice == WHOLE_TEAM and user.is_admin and user.team_id is not None:
        ids = tuple(user.viewable_users().values_list("pk", flat=True))
        return Scope(ids, _("Whole team"), is_own=False, choice=WHOLE_TEAM)
    other = _chosen_teammate(user, choice)
    if other is not None:
        return Scope((other.pk,), other.display_name, is_own=False, choice=str(other.pk))
    return Scope((user.pk,), _("Me"), is_own=True, choice="")


def _chosen_teammate(user: User, choice: str) -> User | None:
    if not choice.isdigit() or int(choice) == user.pk:
        return None
    other = User.objects.filter(pk=int(choice)).first()
    if other is None or not user.can_view_as(other):
        return None
    return other


def choose_view_as(request: HttpRequest, choice: str) -> bool:
    """Store a view-as choice ("" = me, "team", or a user id); False when it is not allowed."""
    user = signed_in_user(request)
    if choice in {"", str(user.pk)}:
        request.session.pop(SESSION_KEY, None)
        return True
    if choice == WHOLE_TEAM:
        allowed = user.is_admin and user.team_id is not None
    else:
        allowed = _chosen_teammate(user, choice) is not None
    if allowed:
        request.session[SESSION_KEY] = choice
    return allowed


def view_as_choices(user: User) -> list[tuple[str, str]]:
    """The options of the view-as menu; empty for users who may only see their own data."""
    if not user.is_admin or user.team_id is None:
        return []
    teammates = user.viewable_users().exclude(pk=user.pk).order_by("username")
    options = [("", str(_("Me"))), (WHOLE_TEAM, str(_("Whole team")))]
    options += [(str(mate.pk), mate.display_name) for mate in teammates]
    return options
