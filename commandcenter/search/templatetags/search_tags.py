"""The saved searches of the sidebar, with their counts as of now."""

from __future__ import annotations

from typing import Any

from django import template

from commandcenter.accounts.models import User
from commandcenter.search import saved

register = template.Library()


@register.inclusion_tag("search/_sidebar.html", takes_context=True)
def saved_search_sidebar(context: template.Context, current: int | None = None) -> dict[str, Any]:
    """The sidebar without its counts: the page does not wait for them, they load next
    (search:sidebar) and keep themselves current."""
    return sidebar_context(context["request"].user, current, with_counts=False)


def sidebar_context(user: Any, current: int | None, *, with_counts: bool) -> dict[str, Any]:
    if not isinstance(user, User):
        return {"searches": []}
    searches = list(saved.readable(user))
    counts = saved.counts(searches, user) if with_counts else {}
    return {
        "searches": [(found, counts.get(found.pk, "…")) for found in searches],
        "current": current,
        "with_counts": with_counts,
    }


@register.inclusion_tag("search/_feed.html")
def live_feed(saved_search: Any = None) -> dict[str, Any]:
    from django.utils.translation import gettext as _

    text = {
        "opened": _("viewed"),
        "clicked": _("clicked"),
        "replied": _("replied to"),
        "bounced": _("bounced"),
        "complained": _("marked as spam"),
        "auto_replied": _("auto-replied to"),
        "joined": _("joined"),
        "left": _("left"),
        "machine": _("machine"),
        "live": _("live"),
        "offline": _("reconnecting…"),
    }
    return {"saved": saved_search, "feed_text": text}
