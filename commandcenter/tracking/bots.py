"""Crawlers, bots and scripts, told by their user agent.

Two sources, in this order:

1. crawler-user-agents (a maintained list of bot patterns, pinned in pyproject.toml and
   upgraded like any dependency): about 1,500 regular expressions. Tried one by one they
   cost a millisecond a user agent, so each is filed under a piece of plain text it cannot
   match without (its "key"), and only those whose key is in the user agent are run.
2. Our own shape rules for what no list names yet: a web address or an e-mail address in the
   user agent (bots name their home page; browsers never do), the words bots call
   themselves by, and HTTP libraries.

A match inside the device comment of a browser's user agent ("HTC Butterfly", a build
number) is not a bot: list patterns written for one bot's name can hit a phone's model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import crawleruseragents

from commandcenter.lib.regex import top_level_alternatives

# The shortest plain text worth indexing a pattern by; shorter keys are tried always.
KEY_LENGTH = 3


@dataclass(frozen=True)
class Bot:
    name: str  # as the user agent writes it ("AhrefsBot")
    why: str  # which rule told it: "crawler", "script", ...


@dataclass(frozen=True)
class _Pattern:
    key: str  # lower-case plain text every match contains ('' = none found)
    regex: re.Pattern[str]


class _Index:
    """The list's patterns filed by the first KEY_LENGTH letters of their key."""

    def __init__(self, patterns: list[str]) -> None:
        self.by_start: dict[str, list[_Pattern]] = {}
        self.always: list[_Pattern] = []
        for pattern in patterns:
            try:
                compiled = re.compile(pattern)
            except re.error:
                continue  # (a pattern Python cannot read is one bot less, never a crash)
            for branch in top_level_alternatives(pattern):
                entry = _Pattern(_literal_key(branch), compiled)
                if len(entry.key) >= KEY_LENGTH:
                    self.by_start.setdefault(entry.key[:KEY_LENGTH], []).append(entry)
                else:
                    self.always.append(entry)
        self.starts = frozenset(self.by_start)

    def search(self, user_agent: str, lowered: str) -> re.Match[str] | None:
        grams = {lowered[i : i + KEY_LENGTH] for i in range(len(lowered) - KEY_LENGTH + 1)}
        for start in grams & self.starts:
            for entry in self.by_start[start]:
                if entry.key in lowered and (found := entry.regex.search(user_agent)):
                    return found
        for entry in self.always:
            if found := entry.regex.search(user_agent):
                return found
        return None


def required_words(pattern: str) -> list[str]:
    """Lower-case plain words one of which is in every text the pattern matches, or []
    when some alternative has none (the pattern must then always be tried)."""
    keys = [_literal_key(branch) for branch in top_level_alternatives(pattern)]
    return keys if all(len(key) >= KEY_LENGTH for key in keys) else []


PLAIN_ESCAPES = frozenset("/.-_ :;@#%&=~!,'\"<>")


def _literal_key(branch: str) -> str:
    """The longest run of plain characters in a branch outside groups and classes, lower
    case ('' when it has none a match must contain). A `(…)` group may hold alternatives
    or be optional, so its text is never part of a key."""
    runs, current, depth, at = [], [], 0, 0
    while at < len(branch):
        char = branch[at]
        if char == "\\" and at + 1 < len(branch):
            following = branch[at + 1]
            if following in PLAIN_ESCAPES and depth == 0:
                current.append(following)
            else:
                runs.append(current)
                current = []
            at += 2
            continue
        if char in "([":
            runs.append(current)
            current = []
            if char == "[":
                at = _class_end(branch, at)
            else:
                depth += 1
        elif char == ")":
            depth -= 1
        elif char in "?*{":
            if current:
                current.pop()  # the character before is optional
            runs.append(current)
            current = []
        elif char in ".+^$|":
            runs.append(current)  # ("a+": the a is needed, what follows may not touch it)
            current = []
        elif depth == 0:
            current.append(char)
        at += 1
    runs.append(current)
    return max(("".join(run) for run in runs), key=len).lower()


def _class_end(branch: str, start: int) -> int:
    at = start + 1
    while at < len(branch) and branch[at] != "]":
        at += 2 if branch[at] == "\\" else 1
    return at


@lru_cache(maxsize=1)
def _index() -> _Index:
    return _Index([entry["pattern"] for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA])


# -- our shape rules ---------------------------------------------------------------------------

# A browser's user agent: "Mozilla/5.0 (device comment) AppleWebKit/… (KHTML, like Gecko)…".
DEVICE_COMMENT = re.compile(r"^Mozilla/\d\.\d \(([^()]*)\)", re.I)


@dataclass(frozen=True)
class _Shape:
    """A rule of ours: the regular expression runs only when one of its words (lower case)
    is in the user agent, which most browsers' are not: a substring test is a hundred times
    cheaper than a search."""

    why: str
    words: tuple[str, ...]  # (empty: always run it)
    regex: re.Pattern[str]

    def search(self, user_agent: str, lowered: str) -> re.Match[str] | None:
        if not self.words or any(word in lowered for word in self.words):
            return self.regex.search(user_agent)
        return None


# HTTP libraries and command-line tools: a program, not a person.
SCRIPT = _Shape(
    "script",
    (),  # (anchored at the start: cheap to try always)
    re.compile(
        r"^(?:python|java/|go-http|go |curl/|wget|libwww|lwp-|perl|ruby|php|node|axios|"
        r"okhttp|apache-httpclient|httpie|http\.rb|guzzle|reqwest|aiohttp|httpx|urllib|"
        r"winhttp|dart:io|deno/|bun/|rust|postman|insomnia|powershell|\w+-http|"
        r"http_request|cpp-httplib|libcurl|faraday|typhoeus|restsharp|hackney|mechanize|"
        r"scrapy|colly|wordpress/|zgrab|masscan|nmap|nuclei|sqlmap|nikto)",
        re.I,
    ),
)
SHAPES = (
    # Bots write a home page or a contact address into their user agent; browsers never do.
    _Shape(
        "bot",
        ("http", "www.", "@", "(at)", "[at]"),
        re.compile(
            r"https?:/|\bwww\.|[\w.+-]@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b|\(at\)|\[at\]",
            re.I,
        ),
    ),
    # The words bots and scripts call themselves by.
    _Shape(
        "bot",
        (
            "bot",
            "crawl",
            "spider",
            "scrap",
            "slurp",
            "fetch",
            "archiv",
            "harvest",
            "scan",
            "monitor",
            "uptime",
            "pingdom",
            "check",
            "probe",
            "validator",
            "preview",
            "index",
            "headless",
            "lighthouse",
            "phantomjs",
            "selenium",
            "puppeteer",
            "playwright",
            "seo",
            "analy",
            "audit",
            "capture",
            "screenshot",
            "thumbnail",
            "unfurl",
            "extractor",
            "feed",
            "aggregator",
            "http",
            "sdk",
            "api",
        ),
        re.compile(
            r"bot\b|bot[/_ ;-]|robot|crawl|spider|scrap(?:er|ing|y)|slurp|fetch|archiv|harvest|"
            r"scan(?:ner|ning|bot)?\b|monitor|uptime|pingdom|checker|check/|probe|validator|"
            r"preview|indexer|headless|lighthouse|phantomjs|selenium|puppeteer|playwright|"
            r"\bseo|analy[sz]er|audit|capture|screenshot|thumbnail|unfurl|extractor|"
            r"feed ?reader|aggregator|link ?check|http-?client|\bsdk\b|\bapi\b",
            re.I,
        ),
    ),
)
# Every browser and mail client names where it runs: an operating system or a device.
PLATFORMS = (
    "windows",
    "win32",
    "win64",
    "winnt",
    "win9",
    "mac",
    "linux",
    "android",
    "iphone",
    "ipad",
    "ipod",
    "ios",
    "x11",
    "cros",
    "blackberry",
    "bb10",
    "symbian",
    "series40",
    "series60",
    "series 40",
    "series 60",
    "nokia",
    "tizen",
    "kaios",
    "webos",
    "web0s",
    "mobile",
    "tablet",
    "playstation",
    "xbox",
    "nintendo",
    "smarttv",
    "smart-tv",
    "bsd",
    "sunos",
    "unix",
    "haiku",
    "beos",
    "amigaos",
    "os/2",
    "j2me",
    "midp",
    "fuchsia",
    "harmony",
    "darwin",
    "sailfish",
    "ubuntu",
    "fedora",
    "roku",
    "palm",
    "syllable",
    "brew",
    "cygwin",
    "inferno",
    "kindle",
)
TV = re.compile(r"\bTV\b", re.I)
# Without one, "Mozilla/5.0 (compatible; Tool/1.0)" is a tool borrowing a browser's prefix
# (the bare "Mozilla/5.0" of Apple's prefetch proxy is told before this, in verdict.py), and
# a user agent with neither a product/version ("Name/1.2") nor a comment in parentheses
# ("Abcd", "parser", "Google") is no browser's.
NOT_A_BROWSER = re.compile(r"^Mozilla/|^[^(]*$", re.I)
# Old phones' browsers and in-app views that name no platform but say what they are.
BROWSER_HINTS = ("browser/", "wap", "fban", "midp")
# "AppleWebKit/537.36 (KHTML, like Gecko; Google-Ads-Qualify)": a browser's engine comment
# never holds more than "KHTML, like Gecko"; renderers that fetch for a service add a name.
ENGINE_COMMENT_EXTRA = "(khtml, like gecko;"
# "… Safari/537.36 (compatible; Google-HotelAdsVerifier/2.0)": a "compatible" comment after
# the engine's is a tool naming itself; browsers write it first or not at all.
LATE_COMPATIBLE = re.compile(r"\)[^()]*\(compatible; ?([^;()]+)", re.I)
# Template or code text where a user agent should be ("${jndi:…}", "{{…}}", "<?="): a probe.
PROBES = ("${", "{{", "<?")
# Words of a browser's user agent, never a bot's name.
BROWSER_WORD = re.compile(
    r"mozilla|applewebkit|khtml|gecko|chrome|safari|version|mobile|firefox|edg|edge|opr|"
    r"trident|msie|like|windows|linux|android|iphone|ipad|macintosh|compatible|u|wv",
    re.I,
)
PRODUCT = re.compile(r"([A-Za-z][\w.+-]*[A-Za-z0-9])(?:/[\w.+-]*)?")


def bot(user_agent: str) -> Bot | None:
    """The bot a user agent names, or None when it reads as a browser or mail client."""
    comment = DEVICE_COMMENT.match(user_agent)
    lowered = user_agent.lower()
    # HTTP libraries first: the list names some of them too, but "script" says more.
    script = SCRIPT.search(user_agent, lowered)
    if script is not None:
        return Bot(_name_at(user_agent, script.start(), script.group(0)), SCRIPT.why)
    listed = _index().search(user_agent, lowered)
    if listed is not None and not _inside_device_comment(listed, comment):
        return Bot(_name_at(user_agent, listed.start(), listed.group(0)), "crawler")
    for shape in SHAPES:
        found = shape.search(user_agent, lowered)
        if found is not None and not _inside_device_comment(found, comment):
            return Bot(_name_at(user_agent, found.start(), found.group(0)), shape.why)
    if ENGINE_COMMENT_EXTRA in lowered:
        return Bot(_engine_comment_name(user_agent), "bot")
    late = LATE_COMPATIBLE.search(user_agent) if "compatible" in lowered else None
    if late is not None:
        return Bot(late.group(1).strip()[:60], "bot")
    if any(probe in user_agent for probe in PROBES) or (
        NOT_A_BROWSER.match(user_agent)
        and not _names_a_platform(user_agent, lowered)
        and not any(hint in lowered for hint in BROWSER_HINTS)
    ):
        return Bot(_own_product(user_agent) or user_agent[:60], "not a browser")
    return None


def _names_a_platform(user_agent: str, lowered: str) -> bool:
    return any(word in lowered for word in PLATFORMS) or TV.search(user_agent) is not None


def listed(user_agent: str) -> re.Match[str] | None:
    """Where crawler-user-agents' patterns alone find a bot in the user agent, or None."""
    return _index().search(user_agent, user_agent.lower())


def _engine_comment_name(user_agent: str) -> str:
    at = user_agent.lower().index(ENGINE_COMMENT_EXTRA) + len(ENGINE_COMMENT_EXTRA)
    name = user_agent[at:].split(")")[0].split(";")
    words = [part.strip() for part in name if part.strip() and part.strip() != "compatible"]
    return words[0][:60] if words else "a page renderer"


def _inside_device_comment(found: re.Match[str], comment: re.Match[str] | None) -> bool:
    """In "Mozilla/5.0 (Linux; Android 10; HTC Butterfly)" the words name a device; a bot
    that writes itself there says so with "compatible;", a version ("BDCbot/1.0") or an
    address."""
    if comment is None or "compatible" in comment.group(1).lower():
        return False
    if not comment.start(1) <= found.start() < comment.end(1):
        return False
    text = comment.group(1)
    end = found.end() - comment.start(1)
    while end < len(text) and (text[end].isalnum() or text[end] in "-_."):
        end += 1
    return not text.startswith("/", end) and "http" not in text.lower()


def _name_at(user_agent: str, at: int, matched: str) -> str:
    """The product name around a match ("AhrefsBot" in "…; AhrefsBot/7.0; …"); for an
    address, the agent's own product name."""
    if matched.lower().startswith(("http", "www")) or "@" in matched or "(at)" in matched:
        return _own_product(user_agent) or matched
    start = at
    while start > 0 and (user_agent[start - 1].isalnum() or user_agent[start - 1] in "-_.+"):
        start -= 1
    word = PRODUCT.match(user_agent, start)
    name = word.group(1) if word else matched
    if name.islower() and name.lower() == matched.lower():
        # A plain word ("domain scanner"), not a name: the agent's own product says who.
        name = _own_product(user_agent) or name
    return name[:60].strip() or matched[:60]


def _own_product(user_agent: str) -> str:
    """The first product token that is not a browser's ("Foo" in "Mozilla/5.0 (compatible;
    Foo/1.0; +http://…)")."""
    for word in PRODUCT.finditer(user_agent):
        name = word.group(1)
        if not BROWSER_WORD.fullmatch(name) and not name[0].isdigit() and len(name) > 1:
            return name[:60]
    return ""
