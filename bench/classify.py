"""Inbound mail classification: accuracy on the sisimai corpus and messages/s on one core.

Ours (`commandcenter.signals.classify`) beside flufl.bounce alone, on the same messages in
the same run. flufl.bounce only finds addresses, so for it "kind" is bounce when it finds
one and human otherwise. The corpus is ../shared/corpora/bounces (see its README).

Two estimates of how the rules do on mail that is not in the corpus follow: the corpus scored
with every phrase that fires in only one family of its files (lhost-postfix, rhost-google…)
taken out while that family is classified, and the held-out set of
commandcenter/signals/tests/data/heldout (messages written from public formats, answers
checked against sisimai), which no rule was written from. The speed is CPU time of this
process, with the load average beside it: other work on the machine slows it too.
"""

from __future__ import annotations

import email
import os
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from flufl.bounce import scan_message

from commandcenter.signals.classify import classify
from commandcenter.signals.corpus import EXPECTED_KIND, Scores, load, score, score_one
from commandcenter.signals.reasons import holding_out, recording_rules

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / "bounces"
TARGETS = {"kind": 0.98, "found": 0.98, "hard": 0.95, "reason": 0.90}
TARGET_RATE = 2000.0


def main(argv: list[str]) -> None:
    corpus = Path(argv[0]) if argv else CORPUS
    if not (corpus / "expected.json").exists():
        print(f"   corpus not found at {corpus}: skipped")
        return
    cases = load(corpus)
    raws = [raw for _, raw, _ in cases]
    ours = score(cases)
    print(f"   corpus: {ours.messages} scored messages, {ours.bounced} bounced recipients")
    print(f"   {'':28}{'ours':>10}{'flufl.bounce':>14}{'target':>10}")
    flufl_kind, flufl_found = flufl_accuracy(cases)
    rows = [
        ("kind right", ours.kind_rate, flufl_kind, TARGETS["kind"]),
        ("bounced recipients found", ours.found_rate, flufl_found, TARGETS["found"]),
        ("hard-bounce verdict right", ours.hard_rate, None, TARGETS["hard"]),
        ("reason right", ours.reason_rate, None, TARGETS["reason"]),
    ]
    for label, value, baseline, target in rows:
        theirs = f"{baseline:14.1%}" if baseline is not None else f"{'-':>14}"
        print(f"   {label:28}{value:10.1%}{theirs}{target:10.0%}")
    ours_rate = messages_per_second(raws, classify)
    flufl_rate = messages_per_second(raws, lambda raw: scan_message(email.message_from_bytes(raw)))
    print(
        f"   messages/s on one core      {ours_rate:10,.0f}{flufl_rate:14,.0f}{TARGET_RATE:10,.0f}"
    )
    print(f"   (load average {' '.join(f'{v:.1f}' for v in os.getloadavg())})")
    held_out_check(cases)
    held_out_set(Path(__file__).resolve().parent.parent / HELD_OUT_SET)


# A second set with answers checked against sisimai, never used to write rules.
HELD_OUT_SET = "commandcenter/signals/tests/data/heldout"


def family(name: str) -> str:
    """The mail server family of a corpus file: its name without the number
    ("lhost-postfix-07.eml" -> "lhost-postfix")."""
    return name.rsplit("-", 1)[0]


def held_out_check(cases: list[tuple[str, bytes, dict]]) -> None:
    """How the rules would do on mail from servers the corpus does not have: for each family
    of files, classify it with every phrase that fires only in that family taken out, and
    score the lot. A rule written for one family's wording then costs what it won."""
    fired: dict[str, set[str]] = defaultdict(set)  # rule -> the families it decided for
    for name, raw, _ in cases:
        with recording_rules() as rules:
            classify(raw)
        for rule in rules:
            fired[rule].add(family(name))
    only_in: dict[str, set[str]] = defaultdict(set)  # family -> its own rules
    for rule, families in fired.items():
        if len(families) == 1:
            only_in[next(iter(families))].add(rule)
    scores = Scores()
    for name, raw, answer in cases:
        with holding_out(frozenset(only_in.get(family(name), ()))):
            score_one(scores, name, classify(raw), answer)
    singles = sum(len(rules) for rules in only_in.values())
    print(
        f"   held out by family ({len({family(n) for n, _, _ in cases})} families; "
        f"{singles} of {len(fired)} deciding phrases fire in one family only, taken out):"
    )
    print_scores(scores, with_misses=False)


def held_out_set(folder: Path) -> None:
    if not (folder / "expected.json").exists():
        return
    scores = score(load(folder))
    print(f"   held-out set ({scores.messages} messages written from public formats, ", end="")
    print(f"{scores.bounced} bounced recipients, answers checked against sisimai):")
    print_scores(scores)


def print_scores(scores: Scores, *, with_misses: bool = True) -> None:
    print(
        f"     kind {scores.kind_rate:.1%}, found {scores.found_rate:.1%}, "
        f"hard {scores.hard_rate:.1%}, reason {scores.reason_rate:.1%}"
    )
    for miss in scores.misses if with_misses else ():
        print(f"       {miss}")


def flufl_accuracy(cases: list[tuple[str, bytes, dict]]) -> tuple[float, float]:
    kinds_right = expected_recipients = found = 0
    for _, raw, answer in cases:
        addresses = {
            (a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a)).lower()
            for a in scan_message(email.message_from_bytes(raw))
        }
        expected_kind = EXPECTED_KIND.get(answer["kind"], answer["kind"])
        kinds_right += ("bounce" if addresses else "human") == expected_kind
        if expected_kind != "bounce":
            continue
        for recipient in answer["recipients"]:
            if recipient.get("recipient"):
                expected_recipients += 1
                found += recipient["recipient"].lower() in addresses
    return kinds_right / len(cases), found / max(expected_recipients, 1)


def messages_per_second(raws: list[bytes], work: Callable[[bytes], object]) -> float:
    """CPU time of this process only (one core), best of three passes over the corpus."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for raw in raws:
            work(raw)
        best = min(best, time.process_time() - started)
    return len(raws) / best if best else float("inf")
