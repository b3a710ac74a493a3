"""The verdict table over real user-agent strings and addresses, as they reach the pixel."""

from __future__ import annotations

import pytest

from commandcenter.tracking.verdict import (
    CLICK,
    OPEN,
    Hit,
    RecentHit,
    recent_hits_matter,
    verdict,
)

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
EDGE = CHROME + " Edg/131.0.0.0"
OUTLOOK_IMAGES = "Mozilla/4.0 (compatible; ms-office; MSOffice 16)"
OUTLOOK_DESKTOP = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17126; Pro)"
APPLE_MAIL = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
YAHOO_PROXY = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
SLACKBOT = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"
FACEBOOK = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
LINKEDIN = "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)"
TWITTER = "Twitterbot/1.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BINGPREVIEW = (
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/534+ (KHTML, like Gecko) BingPreview/1.0b"
)
EXISTENCE = "Microsoft Office Existence Discovery"
CURL = "curl/8.5.0"

HOME_IP = "203.0.113.7"
HOUR = 3600.0


def judge(
    kind: str, user_agent: str, ip: str = HOME_IP, *, method: str = "GET", since: float = HOUR
) -> tuple[bool, str]:
    found = verdict(Hit(kind, method, user_agent, ip, seconds_since_sent=since))
    return found.machine, found.reason


@pytest.mark.parametrize(
    ("kind", "user_agent", "ip", "machine", "reason_has"),
    [
        (OPEN, "Mozilla/5.0", "17.58.63.10", True, "Apple Mail Privacy Protection"),
        (OPEN, APPLE_MAIL, "17.58.63.10", True, "Apple Mail Privacy Protection"),
        (OPEN, "Mozilla/5.0", "198.51.100.4", True, "Apple Mail Privacy Protection"),
        (OPEN, GMAIL_PROXY, "66.249.88.22", False, "Google hides the device"),
        (OPEN, YAHOO_PROXY, "98.137.11.1", False, "Yahoo hides the device"),
        (CLICK, EDGE, "40.94.31.4", True, "Safe Links"),
        (CLICK, BINGPREVIEW, HOME_IP, True, "Safe Links"),
        (CLICK, CHROME, "148.163.150.20", True, "Proofpoint"),
        (CLICK, CHROME, "205.139.110.30", True, "Mimecast"),
        (CLICK, CHROME, "209.222.82.3", True, "Barracuda"),
        (CLICK, EXISTENCE, HOME_IP, True, "Microsoft Office checking"),
        (CLICK, SLACKBOT, "3.92.1.1", True, "link-preview bot"),
        (CLICK, FACEBOOK, HOME_IP, True, "link-preview bot"),
        (CLICK, LINKEDIN, HOME_IP, True, "link-preview bot"),
        (CLICK, TWITTER, HOME_IP, True, "link-preview bot"),
        (CLICK, GOOGLEBOT, "66.249.66.1", True, "crawler"),
        (CLICK, CURL, HOME_IP, True, "automated HTTP client"),
        (OPEN, "", HOME_IP, True, "no user agent"),
        (CLICK, CHROME, HOME_IP, False, "Chrome"),
        (CLICK, EDGE, "::ffff:203.0.113.7", False, "Edge"),
        (OPEN, OUTLOOK_IMAGES, HOME_IP, False, "Outlook"),
        (OPEN, OUTLOOK_DESKTOP, HOME_IP, False, "Outlook"),
        (OPEN, APPLE_MAIL, HOME_IP, False, "Apple Mail"),
        (CLICK, IPHONE_SAFARI, "17.5.7.9", False, "iOS"),
        (OPEN, CHROME, "not an address", False, "Chrome"),
    ],
)
def test_it_tells_humans_from_machines_by_user_agent_and_address(
    kind: str, user_agent: str, ip: str, machine: bool, reason_has: str
) -> None:
    found_machine, reason = judge(kind, user_agent, ip)
    assert (found_machine, reason_has in reason) == (machine, True), reason


def test_it_takes_a_head_request_for_a_scanner() -> None:
    assert judge(CLICK, CHROME, method="HEAD") == (
        True,
        "a HEAD request: a link scanner checking the link without opening it",
    )
    assert judge(CLICK, CHROME, method="GET")[0] is False


def test_it_takes_hits_seconds_after_delivery_for_scanners_and_prefetches() -> None:
    assert judge(CLICK, CHROME, since=3.0) == (True, "clicked 3.0 s after delivery: a link scanner")
    assert judge(CLICK, CHROME, since=60.0)[0] is False
    assert judge(OPEN, CHROME, since=0.5) == (True, "opened 0.5 s after delivery: a prefetch")
    assert judge(OPEN, CHROME, since=30.0)[0] is False
    # Gmail's proxy only fetches as someone opens the email, however soon that is.
    assert judge(OPEN, GMAIL_PROXY, since=0.5)[0] is False


def test_it_takes_a_burst_of_clicks_on_every_link_for_a_scanner() -> None:
    hit = Hit(CLICK, "GET", CHROME, HOME_IP, seconds_since_sent=HOUR, link="c", links_in_email=5)
    burst = [RecentHit(CLICK, 0.2, "a"), RecentHit(CLICK, 0.4, "b")]
    assert verdict(hit, burst).machine
    assert verdict(hit, burst).reason == "3 links clicked within 1 s: a link scanner"
    # Later clicks of the same burst (seen when hits are recorded in a batch) count too.
    assert verdict(hit, [RecentHit(CLICK, -0.3, "a"), RecentHit(CLICK, 0.1, "b")]).machine


def test_it_does_not_take_a_person_clicking_twice_or_slowly_for_a_burst() -> None:
    hit = Hit(CLICK, "GET", CHROME, HOME_IP, seconds_since_sent=HOUR, link="a", links_in_email=5)
    assert not verdict(hit, [RecentHit(CLICK, 0.2, "a"), RecentHit(CLICK, 0.3, "a")]).machine
    assert not verdict(hit, [RecentHit(CLICK, 5.0, "b"), RecentHit(CLICK, 9.0, "c")]).machine
    assert not verdict(hit, [RecentHit(OPEN, 0.1, ""), RecentHit(OPEN, 0.2, "")]).machine


def test_it_takes_both_links_of_a_two_link_email_clicked_at_once_for_a_burst() -> None:
    hit = Hit(CLICK, "GET", CHROME, HOME_IP, seconds_since_sent=HOUR, link="b", links_in_email=2)
    assert verdict(hit, [RecentHit(CLICK, 0.05, "a")]).machine


def test_it_looks_back_at_recent_hits_only_where_they_can_make_a_burst() -> None:
    for links_in_email in range(6):
        links = [f"link{n}" for n in range(max(links_in_email, 1))]
        hit = Hit(
            CLICK,
            "GET",
            CHROME,
            HOME_IP,
            seconds_since_sent=HOUR,
            link=links[0],
            links_in_email=links_in_email,
        )
        # Every other link of the email clicked at once: the fastest burst it can have.
        at_once = [RecentHit(CLICK, 0.1, link) for link in links[1:]]
        burst = verdict(hit, at_once).machine
        assert recent_hits_matter(CLICK, links_in_email) is burst, links_in_email
        # Where they cannot, a click is judged the same without them.
        if not burst:
            assert verdict(hit, at_once) == verdict(hit)
    assert not recent_hits_matter(OPEN, 5)


def test_it_excludes_the_senders_own_opens_and_clicks() -> None:
    hit = Hit(OPEN, "GET", CHROME, HOME_IP, seconds_since_sent=HOUR, by_sender=True)
    found = verdict(hit)
    assert (found.machine, found.excluded, found.counts) == (False, True, False)
    assert found.reason == "the sender's own open"


def test_it_counts_only_human_verdicts() -> None:
    human = verdict(Hit(OPEN, "GET", CHROME, HOME_IP, seconds_since_sent=HOUR))
    machine = verdict(Hit(OPEN, "GET", "Mozilla/5.0", "17.1.2.3", seconds_since_sent=HOUR))
    assert (human.counts, machine.counts) == (True, False)


# -- the web's crawlers, bots and scripts (tracking/bots.py) -----------------------------------


@pytest.mark.parametrize(
    ("user_agent", "reason"),
    [
        # Named by crawler-user-agents' patterns.
        (
            "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
            "crawler: AhrefsBot",
        ),
        (
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36 (compatible; "
            "Googlebot/2.1; +http://www.google.com/bot.html)",
            "crawler: Googlebot",
        ),
        ("python-requests/2.32.3", "automated HTTP client, not a mail client or browser: python"),
        ("Go-http-client/2.0", "automated HTTP client, not a mail client or browser: Go-http"),
        # No list names these: our rules of shape.
        ("Zorblax/3.1 (+https://zorblax.example/about)", "bot: Zorblax"),
        ("Quillfinder/0.9 (contact ops@quillfinder.example)", "bot: Quillfinder"),
        ("Mozilla/5.0 (compatible; Larkspur-Linkcheck/1.2)", "bot: Larkspur-Linkcheck"),
        (
            "Mozilla/5.0 (X11; Linux x86_64; MeadowScannerBot/1.0) Gecko/20100101 Firefox/120.0",
            "bot: MeadowScannerBot",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko; "
            "Acme-Page-Renderer) Chrome/124.0.0.0 Safari/537.36",
            "bot: Acme-Page-Renderer",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.0.0 Safari/537.36 (compatible; Acme-AdsVerifier/2.0)",
            "bot: Acme-AdsVerifier",
        ),
        # A mail-like name is not a mail client ("…mail/1.0" is no "Mail/1.0").
        ("Quickmail/1.0 (domain scanner)", "bot: Quickmail"),
        ("Mozilla/5.0 (compatible; Tallyho/1.0)", "not a mail client or browser: Tallyho"),
        ("Wobbleton/4.2", "not a mail client or browser: Wobbleton"),
        ("qwerty", "not a mail client or browser: qwerty"),
        ("${jndi:ldap://probe.example/a}", "bot: "),
    ],
)
def test_it_tells_the_webs_bots_with_their_name(user_agent: str, reason: str) -> None:
    machine, found = judge(CLICK, user_agent)
    assert machine, found
    assert found.startswith(reason), found


@pytest.mark.parametrize(
    "user_agent",
    [
        # A phone's model is no bot, whatever a bot list's pattern says ("Butterfly",
        # "ViewSonic" holds "Sonic").
        "Mozilla/5.0 (Linux; Android 4.2.2; HTC Butterfly Build/JDQ39) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/31.0.1650.59 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 4.4.2; ViewSonic V500 Build/KVT49L) AppleWebKit/535.19 "
        "(KHTML, like Gecko) Chrome/18.0.1025.166 Mobile Safari/535.19",
        # Mail clients whose user agents are not a browser's.
        "Mozilla/4.0 (compatible; ms-office; MSOffice rmj)",
        "Outlook-Android/2.0",
        "Outlook-iOS/709.2189947.prod.iphone (4.2412.0)",
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.3.1",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Version/4.0 Chrome/126.0.6478.71 Mobile Safari/537.36",
        # Old phones' browsers name no platform but say what they are.
        "QC-7135/1.0.38 UP.Browser/4.1.25i",
    ],
)
def test_it_keeps_browsers_and_mail_clients_human(user_agent: str) -> None:
    for kind in (OPEN, CLICK):
        machine, reason = judge(kind, user_agent)
        assert not machine, reason


def test_the_bot_lists_index_finds_what_its_patterns_find() -> None:
    """The index files each pattern under text it needs: it must find every bot the patterns
    find one by one, and no other."""
    import re

    import crawleruseragents

    from commandcenter.tracking import bots

    patterns = [
        re.compile(entry["pattern"]) for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA
    ]
    samples = [
        instance
        for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA
        for instance in entry.get("instances", [])[:1]
    ] + [CHROME, EDGE, IPHONE_SAFARI, APPLE_MAIL, OUTLOOK_DESKTOP]
    for sample in samples:
        expected = any(pattern.search(sample) for pattern in patterns)
        assert (bots.listed(sample) is not None) == expected, sample
