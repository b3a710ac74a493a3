"""The Command Center's tabs: main tabs, their folders, labels and the date each folder shows."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from commandcenter.outbox.labels import ACTION_LABELS, STATUS_LABELS
from commandcenter.outbox.states import Status

__all__ = ["ACTION_LABELS", "DATE_LABELS", "FOLDER_LABELS", "STATUS_LABELS", "tab_bar"]

FOLDER_LABELS: dict[str, Promise] = {
    Status.DELIVERED: _("Delivered"),
    Status.ARCHIVED: _("Archived"),
    Status.SCHEDULED: _("Scheduled"),
    Status.DRAFT: _("Drafts"),
    Status.IN_PROGRESS: _("In Progress"),
    Status.FAILED: _("Failed"),
    Status.BOUNCED: _("Bounced"),
    Status.SPAM: _("Spam"),
}

# The column header for the date a folder is sorted by.
DATE_LABELS: dict[str, Promise] = {
    Status.DELIVERED: _("Sent"),
    Status.ARCHIVED: _("Sent"),
    Status.SCHEDULED: _("Scheduled for"),
    Status.DRAFT: _("Last edited"),
    Status.IN_PROGRESS: _("Scheduled for"),
    Status.FAILED: _("Failed"),
    Status.BOUNCED: _("Failed"),
    Status.SPAM: _("Failed"),
}


@dataclass(frozen=True)
class MainTab:
    key: str
    label: Promise
    folders: tuple[str, ...]


MAIN_TABS = (
    MainTab("sent", pgettext_lazy("tab", "Sent"), (Status.DELIVERED, Status.ARCHIVED)),
    MainTab("pending", _("Pending"), (Status.SCHEDULED, Status.DRAFT, Status.IN_PROGRESS)),
    MainTab("undelivered", _("Undelivered"), (Status.FAILED, Status.BOUNCED, Status.SPAM)),
)


def main_tab_of(folder: str) -> MainTab:
    return next(tab for tab in MAIN_TABS if folder in tab.folders)


@dataclass(frozen=True)
class TabCount:
    key: str
    label: Promise
    count: int
    active: bool
    folder: str


def tab_bar(folder: str, counts: dict[str, int]) -> dict[str, list[TabCount]]:
    """The main tabs (with the sum of their folders) and the active tab's folders, counted."""
    active = main_tab_of(folder)
    mains = [
        TabCount(
            tab.key,
            tab.label,
            sum(counts[f] for f in tab.folders),
            tab is active,
            tab.folders[0],
        )
        for tab in MAIN_TABS
    ]
    subs = [TabCount(f, FOLDER_LABELS[f], counts[f], f == folder, f) for f in active.folders]
    return {"main": mains, "sub": subs}
