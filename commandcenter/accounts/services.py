"""Creating users and issuing their API tokens: one home for the CLI and the web."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from commandcenter.accounts.models import Team, User, api_token_digest, new_api_token


def create_user(
    username: str,
    *,
    email: str,
    password: str | None = None,
    admin: bool = False,
    team_name: str = "default",
) -> User:
    """Create a rep. Raises ValidationError with a readable message on bad input."""
    username = username.strip()
    if not username:
        raise ValidationError("A user needs a name.")
    validate_email(email)
    if User.objects.filter(username=username).exists():
        raise ValidationError(f"A user named {username!r} already exists.")
    with transaction.atomic():
        team = None
        if team_name:
            team, _ = Team.objects.get_or_create(name=team_name)
        user = User(username=username, email=email, is_admin=admin, team=team)
        if admin:
            user.is_staff = True
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save()
    return user


def issue_api_token(user: User) -> str:
    """A new API token for `user`, to be shown to them once: only its digest is kept, so the
    previous token stops working as this one is saved."""
    token = new_api_token()
    user.api_token_hash = api_token_digest(token)
    user.save(update_fields=["api_token_hash"])
    return token


def issue_api_token_for(username: str) -> str:
    try:
        user = User.objects.get(username=username)
    except User.DoesNotExist:
        raise ValidationError(f"No user named {username!r}.") from None
    return issue_api_token(user)
