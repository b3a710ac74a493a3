"""Saving templates, who may use and change them, and how their emails do.

A template's numbers count its emails that went out (Delivered, Archived, Bounced, Spam) and,
of those, how many were viewed, clicked and replied to — by people: the engagement counters
count human events only (machine opens and clicks are kept on the timeline, never counted).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from commandcenter.accounts.models import User
from commandcenter.mailtemplates.models import Template
from commandcenter.outbox.compose import ComposeError, Content
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status

WENT_OUT = (Status.DELIVERED, Status.ARCHIVED, Status.BOUNCED, Status.SPAM)
MAX_NAME = 200


@dataclass(frozen=True)
class Stats:
    sent: int = 0
    viewed: int = 0
    clicked: int = 0
    replied: int = 0

    def rate(self, count: int) -> str:
        return f"{round(100 * count / self.sent)} %" if self.sent else "—"

    @property
    def viewed_rate(self) -> str:
        return self.rate(self.viewed)

    @property
    def clicked_rate(self) -> str:
        return self.rate(self.clicked)

    @property
    def replied_rate(self) -> str:
        return self.rate(self.replied)


def stats_for(templates: Iterable[Template]) -> dict[int, Stats]:
    """Template id -> how its emails did, in one query."""
    ids = [template.pk for template in templates]
    rows = (
        Email.objects.filter(template_id__in=ids, status__in=WENT_OUT)
        .values("template_id")
        .annotate(
            sent=Count("id"),
            viewed=Count("id", filter=Q(opens__gt=0)),
            clicked=Count("id", filter=Q(clicks__gt=0)),
            replied=Count("id", filter=Q(replies__gt=0)),
        )
        .order_by()
    )
    found = {
        row["template_id"]: Stats(row["sent"], row["viewed"], row["clicked"], row["replied"])
        for row in rows
    }
    return {pk: found.get(pk, Stats()) for pk in ids}


def usable(user: User) -> list[Template]:
    """The user's templates and the ones teammates share, by name."""
    return list(Template.objects.usable_by(user).select_related("owner").order_by("name", "pk"))


def can_change(user: User, template: Template) -> bool:
    return template.owner_id == user.pk


def save_template(
    owner: User,
    *,
    name: str,
    content: Content,
    shared: bool = False,
    template: Template | None = None,
) -> Template:
    """Create a template (or change `template`, which must be the owner's); ComposeError with
    a message per field when the input is not one."""
    errors: dict[str, str] = {}
    name = " ".join((name or "").split())
    if not name:
        errors["name"] = _("Give the template a name.")
    elif len(name) > MAX_NAME:
        errors["name"] = _("At most %(n)d characters.") % {"n": MAX_NAME}
    content.check(errors)
    content = content.completed()
    if template is not None and template.owner_id != owner.pk:
        errors["name"] = _("Only its owner can change a template.")
    if errors:
        raise ComposeError(errors)
    target = template or Template(owner=owner)
    target.name, target.shared = name, shared
    target.subject, target.body_text, target.body_html = (
        content.subject,
        content.body_text,
        content.body_html,
    )
    try:
        with transaction.atomic():
            target.save()
    except IntegrityError:
        raise ComposeError({"name": _("You already have a template with this name.")}) from None
    return target
