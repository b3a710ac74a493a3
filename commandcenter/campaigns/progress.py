"""A step is done when its email went out or its task was completed or skipped.

The sender (delivery/sender.py, with the emails the server accepted: what became of them
later is a signal, campaigns/reactions.py) and the task services (tasks/services.py) say so
here, in the transaction that made the move: the enrolments standing on that step go from
"waiting" to "done" with the time, and the engine's next pass moves them on
(engine.advance). The engine thus reads one index range of done steps, however many
enrolments wait for theirs — rather than asking, on every pass, each waiting enrolment
whether its email or task is done.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.utils import timezone

from commandcenter.campaigns.models import Enrolment
from commandcenter.tasks.models import Task


def tasks_done(task_ids: Iterable[int]) -> int:
    """These tasks were completed or skipped: their steps are done."""
    rows = Task.objects.filter(
        pk__in=list(task_ids), enrolment_id__isnull=False, step_id__isnull=False
    ).values_list("enrolment_id", "step_id")
    return steps_done(rows)


def steps_done(rows: Iterable[tuple[int | None, int | None]]) -> int:
    """(enrolment, step) pairs: each enrolment still waiting on that step is done with it.
    No query at all when none is a campaign's (the sender calls it for every email sent)."""
    by_step: dict[int, list[int]] = defaultdict(list)
    for enrolment_id, step_id in rows:
        if enrolment_id is not None and step_id is not None:
            by_step[step_id].append(enrolment_id)
    now = timezone.now()
    moved = 0
    for step_id, enrolment_ids in by_step.items():
        moved += Enrolment.objects.filter(
            pk__in=enrolment_ids, next_step_id=step_id, phase=Enrolment.Phase.WAITING
        ).update(phase=Enrolment.Phase.DONE, next_at=now, updated_at=now)
    return moved
