"""`commandcenter seed-demo`: the demo user's outbox, or synthetic data for the benchmarks.

seed-demo --demo-user                      user demo/demo with emails in every folder
seed-demo --emails N [--users U] [--owner-share 0.1] [--events-per-email E]
                                           N synthetic emails (and E events each), fast
"""

from __future__ import annotations

import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from commandcenter.accounts.models import User
from commandcenter.demo import showcase as demo
from commandcenter.demo import synthetic, tasks_and_campaigns


class Command(BaseCommand):
    help = "Create the demo user's data (--demo-user) or N synthetic emails (--emails N)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--demo-user", action="store_true", help="user demo with demo data")
        parser.add_argument("--emails", type=int, help="write this many synthetic emails")
        parser.add_argument("--users", type=int, default=10, help="reps to spread them over")
        parser.add_argument(
            "--owner-share",
            type=float,
            default=0.1,
            help="share of the emails that belong to the first rep (default: %(default)s)",
        )
        parser.add_argument("--seed", type=int, help="random seed, for repeatable data")
        parser.add_argument(
            "--events-per-email",
            type=float,
            default=0.0,
            help="0: a few events; N >= 1: each email's history, about N events each",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["demo_user"] == (options["emails"] is not None):
            raise CommandError("Give either --demo-user or --emails N.")
        if options["demo_user"]:
            self._demo_user()
        else:
            self._synthetic(options)

    def _demo_user(self) -> None:
        created = demo.seed_demo_user()
        # The Tasks and Campaigns sections' share of the demo (demo/tasks_and_campaigns.py).
        tasks_and_campaigns.seed_demo_tasks_and_campaign(User.objects.get(username=demo.DEMO_USER))
        if created:
            self.stdout.write(f"Demo data created: {created} emails. Log in as demo / demo.")
        else:
            self.stdout.write("Demo data is already there. Log in as demo / demo.")

    def _synthetic(self, options: dict[str, Any]) -> None:
        self._last_report = 0.0
        try:
            result = synthetic.generate(
                options["emails"],
                users=options["users"],
                owner_share=options["owner_share"],
                progress=self._progress,
                seed=options["seed"],
                events_per_email=options["events_per_email"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stderr.write(
            f"wrote {result.emails:,} emails, {result.people:,} people and {result.events:,} "
            f"events for {len(result.users)} reps in {result.seconds:.1f} s"
        )
        self.stdout.write(f"{result.rate:,.0f} emails/s")

    def _progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last_report >= 1 or done == total:
            self._last_report = now
            self.stderr.write(f"{done:,} of {total:,} emails")
