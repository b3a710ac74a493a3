"""A folder page's rows: one row an email, but a Group email's copies roll up into one row.

Everything a row shows is worked out here once, so the template only prints it: the folder
page renders 50 rows on every poll and page turn, and template logic is the slow part.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db.models import Count
from django.utils.safestring import SafeString
from django.utils.translation import ngettext

from commandcenter.campaigns.queries import put_campaign_labels
from commandcenter.outbox.actions import actions_for, retry_refusals
from commandcenter.outbox.models import Batch, Email
from commandcenter.outbox.reasons import explain
from commandcenter.web.folders import ACTION_LABELS
from commandcenter.web.when import formatted

# The order quick-action buttons appear in (Edit is a link, not a button).
BUTTON_ORDER = ("archive", "unarchive", "retry", "delete")


@dataclass
class Row:
    email: Email
    actions: frozenset[str]
    # Set for a Group email: its copies on this page and its size in this folder.
    batch: Batch | None = None
    members: list[Email] = field(default_factory=list)
    in_folder: int = 0

    @property
    def is_group(self) -> bool:
        return self.batch is not None

    @property
    def in_folder_text(self) -> str:
        return ngettext("%(n)d recipient", "%(n)d recipients", self.in_folder) % {
            "n": self.in_folder
        }

    @property
    def ids(self) -> str:
        """The email ids a click on this row acts on: all the copies of a rolled-up Group."""
        return ",".join(str(email.pk) for email in self.members or [self.email])

    @property
    def buttons(self) -> list[tuple[str, str]]:
        return [(a, str(ACTION_LABELS[a])) for a in BUTTON_ORDER if a in self.actions]

    @property
    def campaign(self) -> object | None:
        return campaign_of(self.email)

    @property
    def editable(self) -> bool:
        return "edit" in self.actions and not self.is_group

    @property
    def when(self) -> str:
        return formatted(self.email.sort_at, "short")

    @property
    def reason(self) -> SafeString:
        """The reason in the rep's language (a server's own words quoted as they came)."""
        return explain(self.email.reason).html() if self.email.reason else SafeString("")

    @property
    def reason_text(self) -> str:
        return str(explain(self.email.reason)) if self.email.reason else ""

    # Numbers as text: the template would localise each int, the slowest thing on the page.
    @property
    def pk(self) -> str:
        return str(self.email.pk)

    @property
    def opens(self) -> str:
        return str(sum(email.opens for email in self.members or [self.email]))

    @property
    def clicks(self) -> str:
        return str(sum(email.clicks for email in self.members or [self.email]))

    @property
    def replies(self) -> str:
        return str(sum(email.replies for email in self.members or [self.email]))


def campaign_of(email: Email) -> object | None:
    """ "Campaign name · Day 3 · Automatic email" for a campaign email (labels are put on the
    page's emails in one query by build_rows), None for any other."""
    if email.campaign_id is None:
        return None
    return getattr(email, "campaign_label", None) or "…"


def row_actions(
    email: Email, *, editable: bool, refusals: Mapping[int, str] | None = None
) -> frozenset[str]:
    """The quick actions a row offers: the folder's (less a Retry Send that cannot succeed),
    none when only looking (view as), and no Delete for a campaign email (the campaign owns
    it)."""
    if not editable:
        return frozenset()
    return actions_for(email, refusals)


def build_rows(emails: list[Email], folder: str, *, own_ids: set[int]) -> list[Row]:
    """Rows for a page of emails (newest first); consecutive copies of one Group roll up."""
    put_campaign_labels(emails)
    groups = _group_batches(emails)
    sizes = _sizes_in_folder(groups, folder)
    refusals = retry_refusals(e for e in emails if e.owner_id in own_ids)
    rows: list[Row] = []
    for email in emails:
        editable = email.owner_id in own_ids
        batch = groups.get(email.batch_id) if email.batch_id else None
        if batch is not None and rows and rows[-1].batch is batch:
            rows[-1].members.append(email)
            continue
        row = Row(email, row_actions(email, editable=editable, refusals=refusals))
        if batch is not None:
            row.batch, row.members, row.in_folder = batch, [email], sizes.get(batch.pk, 0)
        rows.append(row)
    return rows


def _group_batches(emails: list[Email]) -> dict[int, Batch]:
    ids = {email.batch_id for email in emails if email.batch_id}
    if not ids:
        return {}
    return {b.pk: b for b in Batch.objects.filter(pk__in=ids, mode=Batch.Mode.GROUP)}


def _sizes_in_folder(groups: dict[int, Batch], folder: str) -> dict[int, int]:
    if not groups:
        return {}
    rows = (
        Email.objects.filter(batch_id__in=list(groups), status=folder)
        .values("batch_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["batch_id"]: row["n"] for row in rows}
