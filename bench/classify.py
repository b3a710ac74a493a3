"""Inbound mail classification: accuracy on both shared corpora, messages/s, the command line.

For each corpus (../shared/corpora/bounces, sisimai's set; ../shared/corpora/bounces-
bounceparser, Mail-DeliveryStatus-BounceParser's; see their READMEs) three columns of ours:

- plain: the classifier as it is;
- leave one family out: each sender family (lhost-postfix, rhost-google, spam-rejection…)
  classified with every phrase or pattern that decides a reason only in that family taken
  out, so a rule written from one family's wording costs what it won (how the rules do on
  servers the corpus does not have);

beside flufl.bounce (it only finds addresses: "kind" is bounce when it finds one) and
Debian's sisimai 4.25 (libsisimai-perl; the answers are sisimai 5's) on the same mail in the
same run. The held-out set of commandcenter/signals/tests/data/heldout follows.

The speed is CPU time of this process; the command line is wall time, start-up included,
of `commandcenter classify` and of sisimai's `perl -MSisimai -e 'print Sisimai->dump($_)…'`
over the same files.
"""

from __future__ import annotations

import email
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from flufl.bounce import scan_message

from commandcenter.signals.classify import Classification, Recipient, classify
from commandcenter.signals.corpus import Scores, load, score, score_one
from commandcenter.signals.reasons import holding_out, recording_rules

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"
CORPORA = ("bounces", "bounces-bounceparser")
TARGETS = {"kind": 0.99, "found": 0.985, "hard": 0.96, "reason": 0.92}
TARGET_RATE = 2000.0
TARGET_CLI = 1.5
HELD_OUT_SET = Path(__file__).resolve().parent.parent / "commandcenter/signals/tests/data/heldout"
SISIMAI_DUMP = "use Sisimai; print Sisimai->dump($_, delivered => 1, vacation => 1) for @ARGV"


def main(argv: list[str]) -> None:
    folders = [Path(arg) for arg in argv] or [SHARED / name for name in CORPORA]
    corpora = [folder for folder in folders if (folder / "expected.json").exists()]
    if not corpora:
        print(f"   corpora not found in {SHARED}: skipped")
        return
    all_raws: list[bytes] = []
    for folder in corpora:
        cases = load(folder)
        all_raws += [raw for _, raw, _ in cases]
        report_corpus(folder, cases)
    ours_rate = messages_per_second(all_raws, classify)
    flufl_rate = messages_per_second(
        all_raws, lambda raw: scan_message(email.message_from_bytes(raw))
    )
    print(
        f"   messages/s on one core, both corpora: ours {ours_rate:,.0f}, flufl.bounce "
        f"{flufl_rate:,.0f} (target {TARGET_RATE:,.0f})"
    )
    command_line(corpora[0])
    print(f"   (load average {' '.join(f'{v:.1f}' for v in os.getloadavg())})")
    held_out_set(HELD_OUT_SET)


def report_corpus(folder: Path, cases: list[tuple[str, bytes, dict]]) -> None:
    plain = score(cases)
    lofo = leave_one_family_out(cases)
    flufl = flufl_scores(cases)
    sisimai = sisimai_scores(folder, cases)
    print(
        f"   {folder.name}: {plain.messages} scored messages, {plain.bounced} bounced "
        f"recipients, {len({family(n) for n, _, _ in cases})} sender families"
    )
    header = ["plain", "leave 1 out", "flufl.bounce", "sisimai 4.25", "target"]
    print(f"   {'':26}" + "".join(f"{h:>13}" for h in header))
    for label, attribute, target in (
        ("kind right", "kind_rate", TARGETS["kind"]),
        ("bounced recipients found", "found_rate", TARGETS["found"]),
        ("hard-bounce verdict right", "hard_rate", TARGETS["hard"]),
        ("reason right", "reason_rate", TARGETS["reason"]),
    ):
        values = [getattr(s, attribute) if s else None for s in (plain, lofo, flufl, sisimai)]
        if attribute in ("hard_rate", "reason_rate"):
            values[2] = None  # flufl.bounce has no verdict or reason
        cells = "".join(f"{v:13.1%}" if v is not None else f"{'-':>13}" for v in values)
        print(f"   {label:26}{cells}{target:13.1%}")
    for miss in plain.misses:
        print(f"     {miss}")


def family(name: str) -> str:
    """The sender family of a corpus file: "lhost-postfix-07.eml" -> "lhost-postfix",
    "spam-rejection22.msg" -> "spam-rejection", "aol.unknown.msg" -> "aol"."""
    stem = name.rsplit(".", 1)[0]
    if re.search(r"-\d+$", stem) and stem.count("-") >= 2:
        return stem.rsplit("-", 1)[0]
    return re.sub(r"[-\d]+$", "", stem.split(".")[0]) or stem


def leave_one_family_out(cases: list[tuple[str, bytes, dict]]) -> Scores:
    """Each family classified with the rules that decide only for it taken out."""
    fired: dict[str, set[str]] = defaultdict(set)  # rule -> the families it decided for
    for name, raw, _ in cases:
        with recording_rules() as rules:
            classify(raw)
        for rule in rules:
            fired[rule].add(family(name))
    only_in: dict[str, set[str]] = defaultdict(set)
    for rule, families in fired.items():
        if len(families) == 1:
            only_in[next(iter(families))].add(rule)
    scores = Scores()
    for name, raw, answer in cases:
        with holding_out(frozenset(only_in.get(family(name), ()))):
            score_one(scores, name, classify(raw), answer)
    return scores


def flufl_scores(cases: list[tuple[str, bytes, dict]]) -> Scores:
    scores = Scores()
    for name, raw, answer in cases:
        found = scan_message(email.message_from_bytes(raw))
        addresses = sorted(
            (a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a)).lower()
            for a in found
        )
        got = Classification(
            kind="bounce" if addresses else "human",
            recipients=[Recipient(a, True, False, "") for a in addresses],
        )
        score_one(scores, name, got, answer)
    return scores


def sisimai_scores(folder: Path, cases: list[tuple[str, bytes, dict]]) -> Scores | None:
    """sisimai 4.25 (Debian's libsisimai-perl) on the same files, scored the same way."""
    if shutil.which("perl") is None:
        return None
    files = [str(folder / "messages" / name) for name, _, _ in cases]
    done = subprocess.run(
        ["perl", "-e", SISIMAI_DUMP, *files], capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        return None
    by_file: dict[str, list[dict]] = defaultdict(list)
    for record in _json_arrays(done.stdout):
        by_file[Path(record.get("origin", "")).name].append(record)
    scores = Scores()
    for name, _, answer in cases:
        score_one(scores, name, _from_sisimai(by_file.get(name, [])), answer)
    return scores


def _json_arrays(text: str) -> list[dict]:
    """Sisimai->dump prints one JSON array per file, one after the other."""
    decoder, at, records = json.JSONDecoder(), 0, []
    while (at := _skip_space(text, at)) < len(text):
        value, at = decoder.raw_decode(text, at)
        records += value if isinstance(value, list) else []
    return records


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at


def _from_sisimai(records: list[dict]) -> Classification:
    reasons = {r.get("reason") for r in records}
    kind = "complaint" if "feedback" in reasons else "auto_reply" if "vacation" in reasons else ""
    recipients = [
        Recipient(
            address=str(r.get("recipient", "")).lower(),
            permanent=True,
            hard_bounce=r.get("softbounce") == 0,
            reason=str(r.get("reason", "")),
        )
        for r in records
    ]
    return Classification(kind=kind or ("bounce" if records else "human"), recipients=recipients)


def command_line(folder: Path) -> None:
    """Wall time over the corpus's files, start-up included: ours, then sisimai's."""
    files = sorted(str(path) for path in (folder / "messages").iterdir())
    script = Path(sys.executable).with_name("commandcenter")
    ours = best_wall_time([str(script), "classify", *files])
    line = f"   command line over {len(files)} files, wall time with start-up: ours {ours:.2f} s"
    if shutil.which("perl") is not None:
        theirs = best_wall_time(["perl", "-e", SISIMAI_DUMP, *files])
        line += f", sisimai {theirs:.2f} s: {theirs / ours:.2f}x its speed (target {TARGET_CLI}x)"
    print(line)


def best_wall_time(command: list[str], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=False, timeout=300)
        best = min(best, time.perf_counter() - started)
    return best


def held_out_set(folder: Path) -> None:
    if not (folder / "expected.json").exists():
        return
    scores = score(load(folder))
    print(
        f"   held-out set ({scores.messages} messages written from public formats, "
        f"{scores.bounced} bounced recipients):"
    )
    print(
        f"     kind {scores.kind_rate:.1%}, found {scores.found_rate:.1%}, "
        f"hard {scores.hard_rate:.1%}, reason {scores.reason_rate:.1%}"
    )
    for miss in scores.misses:
        print(f"       {miss}")


def messages_per_second(raws: list[bytes], work: Callable[[bytes], object]) -> float:
    """CPU time of this process only (one core), best of three passes."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for raw in raws:
            work(raw)
        best = min(best, time.process_time() - started)
    return len(raws) / best if best else float("inf")
