"""Scoring the classifier against a corpus with expected answers (see shared/corpora/README.md).

The tests and `make bench` both call `score()`, so the figures they report are the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from commandcenter.signals.classify import Classification, classify

# The corpus names ordinary mail `not_bounce`; the classifier calls it `human`.
EXPECTED_KIND = {"not_bounce": "human"}


@dataclass
class Scores:
    messages: int = 0
    kinds_right: int = 0
    bounced: int = 0  # expected bounced recipients
    found: int = 0
    hard_right: int = 0
    reason_right: int = 0
    misses: list[str] = field(default_factory=list)

    def rate(self, part: int, whole: int) -> float:
        return part / whole if whole else 1.0

    @property
    def kind_rate(self) -> float:
        return self.rate(self.kinds_right, self.messages)

    @property
    def found_rate(self) -> float:
        return self.rate(self.found, self.bounced)

    @property
    def hard_rate(self) -> float:
        return self.rate(self.hard_right, self.bounced)

    @property
    def reason_rate(self) -> float:
        return self.rate(self.reason_right, self.bounced)


def load(corpus: Path) -> list[tuple[str, bytes, dict]]:
    """(file name, bytes, expected answer) for every scored message of the corpus."""
    expected = json.loads((corpus / "expected.json").read_text())
    return [
        (name, (corpus / "messages" / name).read_bytes(), answer)
        for name, answer in sorted(expected.items())
        if answer["kind"] != "unscored"
    ]


def score(cases: list[tuple[str, bytes, dict]]) -> Scores:
    """Kind right over all scored messages; recipients found, hard-bounce verdict and reason
    right over every expected bounced recipient (a recipient not found counts as wrong)."""
    scores = Scores()
    for name, raw, answer in cases:
        score_one(scores, name, classify(raw), answer)
    return scores


def score_one(scores: Scores, name: str, got: Classification, answer: dict) -> None:
    scores.messages += 1
    kind = EXPECTED_KIND.get(answer["kind"], answer["kind"])
    if got.kind == kind:
        scores.kinds_right += 1
    else:
        scores.misses.append(f"{name}: kind {got.kind}, expected {kind}")
    if kind != "bounce":
        return
    by_address = {r.address.lower(): r for r in got.recipients}
    for expected in answer["recipients"]:
        if not expected.get("recipient"):
            continue  # the corpus does not know the address: nothing to check it against
        scores.bounced += 1
        recipient = by_address.get(expected["recipient"].lower())
        if recipient is None:
            scores.misses.append(f"{name}: {expected['recipient']} not found")
            continue
        scores.found += 1
        scores.hard_right += recipient.hard_bounce == expected["hard_bounce"]
        if recipient.reason == expected["reason"]:
            scores.reason_right += 1
        else:
            scores.misses.append(
                f"{name}: {expected['recipient']} reason {recipient.reason}, "
                f"expected {expected['reason']}"
            )
