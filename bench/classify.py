"""Inbound mail classification: accuracy on the sisimai corpus and messages/s on one core.

Ours (`commandcenter.signals.classify`) beside flufl.bounce alone, on the same messages in
the same run. flufl.bounce only finds addresses, so for it "kind" is bounce when it finds
one and human otherwise. The corpus is ../shared/corpora/bounces (see its README).
"""

from __future__ import annotations

import email
import time
from collections.abc import Callable
from pathlib import Path

from flufl.bounce import scan_message

from commandcenter.signals.classify import classify
from commandcenter.signals.corpus import EXPECTED_KIND, load, score

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
