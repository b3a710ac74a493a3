"""Human or machine on user agents the rules were not written from, and judgements/s.

The crawler list is the Matomo Device Detector project's bot fixtures; the human list is its
browser, mail-client and in-app fixtures (desktop, smartphone, tablet), fake-useragent's
sample of real browsers and a few mail clients and image proxies written here. None of them
is the list `tracking/bots.py` uses (crawler-user-agents), so the figures are not its own
answers read back. Both fixture sets come from packages of the `dev` extra.

Baseline from the same run: crawler-user-agents alone (its answers; its own `is_crawler()` for
the speed) on the same user agents.
The speed is CPU time of one process on user agents it has not seen (each judged once).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import crawleruseragents

from commandcenter.tracking import bots
from commandcenter.tracking.verdict import CLICK, OPEN, Hit, verdict

TARGET_MACHINES = 0.95
TARGET_HUMANS = 0.99
TARGET_RATE = 10_000.0
FIXTURE_KINDS = ("desktop", "smartphone", "tablet", "phablet")
HUMAN_CLIENTS = frozenset({"browser", "pim", "mobile app"})

# Mail clients and image proxies as they fetch a pixel or open a link (written here).
MAIL_CLIENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Mobile/15E148",
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148",
    "Mozilla/4.0 (compatible; ms-office; MSOffice 16)",
    "Mozilla/4.0 (compatible; ms-office; MSOffice rmj)",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17126; Pro)",
    "Microsoft Office/16.0 (Macintosh; Mac OS X 14.2; Microsoft Outlook 16.80)",
    "Outlook-iOS/709.2189947.prod.iphone (4.2412.0)",
    "Outlook-Android/2.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.6.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.3.1",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/126.0.6478.71 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S911B; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/125.0.6422.165 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; WebView/3.0) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19045",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/127.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
)


def main(argv: list[str]) -> None:
    crawlers, humans = crawler_agents(), human_agents()
    if not crawlers or not humans:
        print("   fixture packages (device-detector, fake-useragent) missing: skipped")
        return
    hit_kinds = (OPEN, CLICK)
    print(
        f"   {len(crawlers):,} crawler and {len(humans):,} human user agents (not in the project)"
    )
    print(f"   {'':32}{'ours':>10}{'list alone':>12}{'target':>10}")
    machine = [judged_machine(ua, kind) for ua in crawlers for kind in hit_kinds]
    human = [not judged_machine(ua, kind) for ua in humans for kind in hit_kinds]

    # (The list's answers through the index of bots.py: the same as its own is_crawler(),
    # which would take a minute over these lists; it is timed below.)
    def listed(user_agent: str) -> bool:
        return bots.listed(user_agent) is not None

    print_row(
        "crawlers judged machines", rate(machine), rate(map(listed, crawlers)), TARGET_MACHINES
    )
    print_row(
        "browsers, mail clients human",
        rate(human),
        rate(not listed(ua) for ua in humans),
        TARGET_HUMANS,
    )
    unseen = [f"{ua} u{n}" for n, ua in enumerate(humans[:4000] + crawlers)]
    ours = per_second(unseen, lambda ua: verdict(Hit(CLICK, "GET", ua, "203.0.113.9")))
    alone = per_second(unseen[:1500], crawleruseragents.is_crawler)
    print(f"   {'judgements/s, unseen agents':32}{ours:10,.0f}{alone:12,.0f}{TARGET_RATE:10,.0f}")
    print(f"   (load average {' '.join(f'{v:.1f}' for v in os.getloadavg())})")
    print_reasons(crawlers)


def judged_machine(user_agent: str, kind: str) -> bool:
    return verdict(Hit(kind, "GET", user_agent, "203.0.113.9")).machine


def rate(values: Iterable[bool]) -> float:
    found = list(values)
    return sum(found) / len(found) if found else 1.0


def print_row(label: str, ours: float, baseline: float, target: float) -> None:
    print(f"   {label:32}{ours:10.1%}{baseline:12.1%}{target:10.0%}")


def per_second(agents: list[str], work: Callable[[str], object]) -> float:
    started = time.process_time()
    for agent in agents:
        work(agent)
    spent = time.process_time() - started
    return len(agents) / spent if spent else float("inf")


def print_reasons(crawlers: list[str]) -> None:
    reasons = Counter(
        verdict(Hit(CLICK, "GET", ua, "203.0.113.9")).reason.split(":")[0] for ua in crawlers
    )
    print(
        "   why crawlers were judged: " + ", ".join(f"{r} {n}" for r, n in reasons.most_common(6))
    )


def _fixtures() -> Path | None:
    try:
        import device_detector
    except ImportError:
        return None
    return Path(device_detector.__file__).parent / "tests" / "fixtures" / "upstream"


# The list counts Gmail's and Yahoo's image proxies as bots; for us they are a person opening
# the email (DESIGN §1), so they are left out of the crawlers.
HUMAN_BY_DESIGN = ("GoogleImageProxy", "YahooMailProxy")


def crawler_agents() -> list[str]:
    folder = _fixtures()
    if folder is None:
        return []
    return sorted(
        {
            entry["user_agent"]
            for entry in _yaml(folder / "bots.yml")
            if not any(proxy in entry["user_agent"] for proxy in HUMAN_BY_DESIGN)
        }
    )


def human_agents() -> list[str]:
    folder = _fixtures()
    if folder is None:
        return []
    found = set(MAIL_CLIENTS)
    for path in sorted(folder.glob("*.yml")):
        if path.name.startswith(FIXTURE_KINDS):
            found |= {
                entry["user_agent"]
                for entry in _yaml(path)
                if (entry.get("client") or {}).get("type") in HUMAN_CLIENTS
            }
    found |= set(_fake_useragent_browsers())
    return sorted(found)


def _yaml(path: Path) -> list[dict]:
    import yaml_rs  # device-detector's own YAML reader

    loaded = yaml_rs.loads(path.read_text())
    return loaded if isinstance(loaded, list) else []


def _fake_useragent_browsers() -> list[str]:
    try:
        import fake_useragent
    except ImportError:
        return []
    data = Path(fake_useragent.__file__).parent / "data" / "browsers.jsonl"
    return [json.loads(line)["useragent"] for line in data.read_text().splitlines() if line]
