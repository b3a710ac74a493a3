"""The campaign engine: a worker loop beside the sender, over the same database.

Its jobs are enrolments. One pass: wake the paused whose pause is over; advance those whose
step is done (its email sent, its task completed or skipped: progress.py marks them) to the
next step, timed from the enrolment's day 1, or finish them; then run the steps that are
due — make the email (through the outbox's compose, see mailing.py) or the task.

Crash safety: a batch of due steps runs in one transaction that claims the enrolments
(FOR UPDATE SKIP LOCKED on PostgreSQL, so several engines share the work; SQLite's IMMEDIATE
transactions serialize them), makes their emails and tasks, and moves each enrolment from
"due" to "waiting" with a conditional UPDATE. Killed at any instant, either all of it is
committed or none: no step runs twice and none is skipped. The unique constraints on
(enrolment, step) of emails and tasks are the last guard.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from commandcenter.campaigns import mailing, schedule, throttle
from commandcenter.campaigns.builder import live_steps
from commandcenter.campaigns.models import Campaign, Enrolment, EnrolmentEvent, Step, Variant
from commandcenter.campaigns.states import State, transition_many
from commandcenter.lib.zones import zone
from commandcenter.outbox.compose import (
    Content,
    StepMarks,
    thread_references,
    threaded_content,
)
from commandcenter.outbox.models import Email
from commandcenter.tasks.models import Task, TaskEvent
from commandcenter.tasks.states import TaskStatus

TASK_TYPES: dict[str, str] = {
    Step.Type.MANUAL_EMAIL: Task.Type.EMAIL,
    Step.Type.CALL: Task.Type.CALL,
    Step.Type.LINKEDIN: Task.Type.LINKEDIN,
    Step.Type.CUSTOM: Task.Type.CUSTOM,
}


def step_events(
    enrolment_ids: list[int], kind: str, detail: str, data: dict[str, object], now: dt.datetime
) -> list[EnrolmentEvent]:
    """Events of a step run or planned: they move nothing (the enrolment stays active)."""
    return [
        EnrolmentEvent(
            enrolment_id=pk,
            kind=kind,
            from_state=State.ACTIVE,
            to_state=State.ACTIVE,
            detail=detail,
            data=data,
            created_at=now,
        )
        for pk in enrolment_ids
    ]


class Engine:
    def __init__(self, worker_id: str = "engine", *, batch_size: int | None = None) -> None:
        self.worker_id = worker_id[:64]
        self.batch_size = batch_size or settings.CAMPAIGN_BATCH_SIZE
        self._steps: dict[int, list[Step]] = {}

    def run_once(self) -> int:
        """One pass; how many enrolments it moved."""
        self._steps.clear()
        return self.wake_paused() + self.advance() + self.run_due()

    def drain(self) -> int:
        total = 0
        while handled := self.run_once():
            total += handled
        return total

    # -- paused enrolments whose pause is over ----------------------------------------------

    def wake_paused(self) -> int:
        now = timezone.now()
        ids = list(
            Enrolment.objects.filter(state=State.PAUSED, paused_until__lte=now).values_list(
                "pk", flat=True
            )[: self.batch_size]
        )
        with transaction.atomic():
            woken = transition_many(
                ids,
                State.ACTIVE,
                kind="resumed",
                reason="the pause is over",
                sources=[State.PAUSED],
            )
            # A step that fell due during the pause is due now.
            Enrolment.objects.filter(
                pk__in=woken, phase=Enrolment.Phase.DUE, next_at__lt=now
            ).update(next_at=now)
        return len(woken)

    # -- steps done: on to the next one -----------------------------------------------------

    def advance(self) -> int:
        rows = list(
            Enrolment.objects.filter(
                state=State.ACTIVE,
                phase=Enrolment.Phase.DONE,
                campaign__status=Campaign.Status.ACTIVE,
            )
            .select_related("campaign")
            .order_by("pk")[: self.batch_size]
        )
        if not rows:
            return 0
        finished: list[int] = []
        events: list[EnrolmentEvent] = []
        now = timezone.now()
        with transaction.atomic():
            for enrolment in rows:
                following = self.step_after(enrolment.campaign_id, enrolment.next_step_id)
                if following is None:
                    finished.append(enrolment.pk)
                    continue
                # next_at of a done step is when it was done: the next one never comes
                # before that (a task completed late pushes the rest back).
                done_at = enrolment.next_at or now
                when = max(self.planned(enrolment, following), done_at)
                moved = Enrolment.objects.filter(
                    pk=enrolment.pk,
                    state=State.ACTIVE,
                    phase=Enrolment.Phase.DONE,
                    next_step_id=enrolment.next_step_id,
                ).update(
                    next_step=following, phase=Enrolment.Phase.DUE, next_at=when, updated_at=now
                )
                if moved:
                    events += step_events(
                        [enrolment.pk],
                        "next_step",
                        f"{following.label} at {when:%Y-%m-%d %H:%M} UTC",
                        {"step": following.pk, "at": when.isoformat()},
                        now,
                    )
            EnrolmentEvent.objects.bulk_create(events, batch_size=500)
            done_ids = transition_many(
                finished,
                State.FINISHED,
                kind="finished",
                reason="every step is done",
                updates={"next_at": None},
                sources=[State.ACTIVE],
            )
        return len(events) + len(done_ids)

    def steps_of(self, campaign_id: int) -> list[Step]:
        if campaign_id not in self._steps:
            campaign = Campaign.objects.get(pk=campaign_id)
            self._steps[campaign_id] = live_steps(campaign)
        return self._steps[campaign_id]

    def step_after(self, campaign_id: int, step_id: int | None) -> Step | None:
        steps = self.steps_of(campaign_id)
        ids = [s.pk for s in steps]
        if step_id not in ids:
            return None
        index = ids.index(step_id)
        return steps[index + 1] if index + 1 < len(steps) else None

    @staticmethod
    def planned(enrolment: Enrolment, step: Step) -> dt.datetime:
        return schedule.planned_at(
            enrolment.started_on,
            step.day,
            step.time,
            zone(enrolment.zone),
            skip_weekends=enrolment.campaign.skip_weekends,
        )

    # -- due steps: make the email or the task ----------------------------------------------

    def run_due(self) -> int:
        now = timezone.now()
        with transaction.atomic():
            ids = list(
                Enrolment.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(
                    state=State.ACTIVE,
                    phase=Enrolment.Phase.DUE,
                    next_at__lte=now,
                    campaign__status=Campaign.Status.ACTIVE,
                )
                .order_by("next_at", "id")
                .values_list("pk", flat=True)[: self.batch_size]
            )
            if not ids:
                return 0
            enrolments = list(
                Enrolment.objects.filter(pk__in=ids, phase=Enrolment.Phase.DUE)
                # A batch shares a few owners, campaigns and steps: one instance of each
                # (prefetched) instead of one per row (joined).
                .select_related("person")
                .prefetch_related("owner", "campaign", "next_step")
                .order_by("next_at", "id")
            )
            by_step: dict[int, list[Enrolment]] = defaultdict(list)
            for enrolment in enrolments:
                if enrolment.next_step_id is not None:
                    by_step[enrolment.next_step_id].append(enrolment)
            ran = 0
            for group in by_step.values():
                ran += self.run_step(group, now)
        return ran

    def run_step(self, group: list[Enrolment], now: dt.datetime) -> int:
        step = group[0].next_step
        assert step is not None
        if step.type == Step.Type.AUTO_EMAIL:
            self.make_emails(step, group)
        else:
            self.make_tasks(step, group)
        moved = Enrolment.objects.filter(
            pk__in=[e.pk for e in group], phase=Enrolment.Phase.DUE, next_step=step
        ).update(phase=Enrolment.Phase.WAITING, next_at=None, updated_at=now)
        EnrolmentEvent.objects.bulk_create(
            step_events(
                [e.pk for e in group],
                "step_ran",
                step.label,
                {"step": step.pk, "worker": self.worker_id},
                now,
            ),
            batch_size=500,
        )
        return moved

    def make_tasks(self, step: Step, group: list[Enrolment]) -> None:
        Task.objects.bulk_create(
            [
                Task(
                    owner_id=e.owner_id,
                    assignee_id=e.owner_id,
                    person_id=e.person_id,
                    type=TASK_TYPES[step.type],
                    title=step.subject or f"{e.campaign.name}: {step.label}",
                    due_at=e.next_at or timezone.now(),
                    notes=step.notes,
                    campaign_id=e.campaign_id,
                    step=step,
                    enrolment=e,
                )
                for e in group
            ],
            batch_size=500,
            # The constraint (enrolment, step) keeps a task from being made twice.
            ignore_conflicts=True,
        )
        made = Task.objects.filter(
            enrolment_id__in=[e.pk for e in group], step=step, status=TaskStatus.OPEN
        ).values_list("pk", flat=True)
        now = timezone.now()
        TaskEvent.objects.bulk_create(
            [
                TaskEvent(
                    task_id=pk,
                    kind="created",
                    to_status=TaskStatus.OPEN,
                    from_status=TaskStatus.OPEN,
                    data={"campaign": step.campaign_id, "step": step.pk},
                    created_at=now,
                )
                for pk in made
            ],
            batch_size=500,
        )

    def make_emails(self, step: Step, group: list[Enrolment]) -> None:
        variants = list(Variant.objects.filter(step=step).order_by("index"))
        previous = self.previous_emails(step, group)
        by_owner: dict[int, list[mailing.Outgoing]] = defaultdict(list)
        owners = {}
        policies = throttle.policies_of({e.owner_id for e in group})
        for e in group:
            variant = variants[e.variant_seed % len(variants)] if variants else None
            source = variant or step
            content = Content(source.subject, source.body_text, source.body_html)
            references = ""
            earlier = previous.get(e.pk)
            if step.thread and earlier is not None:
                # The outbox's one threading rule (the search's follow-up keeps it too).
                content = threaded_content(content, earlier)
                references = thread_references(earlier)
            planned = e.next_at or timezone.now()
            where = schedule.zone_for(e.person, e.owner)
            due = throttle.window_start(policies.get(e.owner_id), planned, where)
            owners[e.owner_id] = e.owner
            by_owner[e.owner_id].append(
                mailing.Outgoing(
                    person=e.person,
                    content=content,
                    marks=StepMarks(
                        campaign_id=e.campaign_id,
                        step_id=step.pk,
                        enrolment_id=e.pk,
                        due_at=due,
                        variant_id=variant.pk if variant else None,
                        reference_ids=references,
                    ),
                )
            )
        for owner_id, outgoing in by_owner.items():
            mailing.make_emails(owners[owner_id], outgoing)

    def previous_emails(self, step: Step, group: Iterable[Enrolment]) -> dict[int, Email]:
        """For a threaded step: each enrolment's email of the last email step before it."""
        if not step.thread:
            return {}
        earlier = [
            s for s in self.steps_of(step.campaign_id) if s.position < step.position and s.is_email
        ]
        if not earlier:
            return {}
        found: dict[int, Email] = {}
        for candidate in reversed(earlier):
            missing = [e.pk for e in group if e.pk not in found]
            if not missing:
                break
            for enrolment_id, email in mailing.emails_of(missing, candidate.pk).items():
                if email.message_id:
                    found[enrolment_id] = email
        return found
