"""The demo user's outbox for `make run`: every folder but In Progress has something in it.

Everything goes through the domain functions (compose, the state machine, record_signal), so
the emails carry the events and reasons the real flow gives them. Running it twice changes
nothing: the data is made once, when the demo user has no emails yet.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.accounts.services import create_user
from commandcenter.mailtemplates.models import Template
from commandcenter.outbox import actions
from commandcenter.outbox.compose import Content, Recipient, compose_bulk, compose_single
from commandcenter.outbox.merge import missing_reason
from commandcenter.outbox.models import Batch, Email, Event
from commandcenter.outbox.states import Status, transition
from commandcenter.people.models import Person
from commandcenter.people.services import set_do_not_contact, unsubscribe_address
from commandcenter.signals.apply import suppress
from commandcenter.signals.record import record_signal

DEMO_USER = "demo"
DEMO_TEAM = "Demo"
TEAMMATES = [("maria", "Maria", "Keller"), ("sam", "Sam", "Okafor")]


@dataclass(frozen=True)
class Prospect:
    first_name: str
    last_name: str
    company: str
    title: str
    domain: str

    @property
    def address(self) -> str:
        local = f"{self.first_name}.{self.last_name}".lower()
        return unicodedata.normalize("NFKD", local).encode("ascii", "ignore").decode() + (
            f"@{self.domain}"
        )


PROSPECTS = [
    Prospect("Olivia", "Chen", "Northwind Traders", "VP Operations", "northwind.example"),
    Prospect("Liam", "Novak", "Contoso", "Head of IT", "contoso.example"),
    Prospect("Amara", "Diallo", "Fabrikam", "CTO", "fabrikam.example"),
    Prospect("Noah", "Schmidt", "Tailspin Toys", "Procurement Lead", "tailspin.example"),
    Prospect("Sofia", "Rossi", "Adventure Works", "COO", "adventure-works.example"),
    Prospect("Ethan", "Park", "Wide World Importers", "Director of Sales", "wideworld.example"),
    Prospect("Yuki", "Tanaka", "Litware", "Engineering Manager", "litware.example"),
    Prospect("Mateo", "Garcia", "Proseware", "Founder", "proseware.example"),
    Prospect("Hannah", "Müller", "Lucerne Publishing", "Marketing Director", "lucerne.example"),
    Prospect("Arjun", "Mehta", "Coho Winery", "General Manager", "cohowinery.example"),
    Prospect("Chloe", "Martin", "Margie's Travel", "Head of Partnerships", "margies.example"),
    Prospect("Lucas", "Silva", "Alpine Ski House", "IT Manager", "alpineski.example"),
    Prospect("Fatima", "Haddad", "Blue Yonder Airlines", "VP Finance", "blueyonder.example"),
    Prospect("Oskar", "Lindqvist", "Graphic Design Institute", "Dean", "gdi.example"),
    Prospect("Grace", "Okoye", "Humongous Insurance", "Chief Risk Officer", "humongous.example"),
    Prospect("Daniel", "Cohen", "Trey Research", "Head of Data", "treyresearch.example"),
    Prospect("Isabel", "Ferreira", "School of Fine Art", "Operations Lead", "finearts.example"),
    Prospect("Kenji", "Watanabe", "Southridge Video", "Producer", "southridge.example"),
    Prospect("Nora", "Andersen", "The Phone Company", "Procurement Manager", "phoneco.example"),
    Prospect("Victor", "Dubois", "Woodgrove Bank", "CIO", "woodgrove.example"),
    Prospect("Zara", "Ahmed", "Consolidated Messenger", "Head of Logistics", "messenger.example"),
    Prospect("Felix", "Wagner", "Fourth Coffee", "Owner", "fourthcoffee.example"),
]

INTRO = Content(
    "Quick question about {{company}}",
    "Hi {{first_name}},\n\nTeams like {{company}} use us to see every prospect email in one "
    "place. Worth a 15-minute call next week?\n\n{{my_signature}}",
)
FOLLOW_UP = Content(
    "Following up",
    "Hi {{first_name}},\n\nFloating this back to the top of your inbox. Would Tuesday or "
    "Thursday suit you?\n\n{{my_signature}}",
)
WEBINAR = Content(
    "Invitation: outbound that gets replies (live session)",
    "Hi {{first_name}},\n\nWe're running a 30-minute session for {{title}}s next Thursday. "
    "Want a seat?\n\n{{my_signature}}",
)
INDUSTRY = Content(
    "Ideas for {{industry}} teams",
    "Hi {{first_name}},\n\nA few ideas we've seen work in {{industry}}.\n\n{{my_signature}}",
)

USER_UNKNOWN = "550 5.1.1 <{address}>: Recipient address rejected: User unknown (at RCPT TO)"
# (reason, hard bounce, the server's words): reasons as bounce handling words them.
BOUNCES = [
    (
        "userunknown",
        True,
        "550 5.1.1 The email account that you tried to reach does not exist.",
    ),
    (
        "mailboxfull",
        False,
        "552 5.2.2 The recipient's mailbox is full and can't accept messages now.",
    ),
    (
        "hostunknown",
        True,
        "Host or domain name not found: the recipient's domain has no mail server.",
    ),
]
# The saved templates of the demo user, and which demo contents were started from them.
TEMPLATES = [
    ("Intro: one place for every prospect email", INTRO, True),
    ("Follow-up", FOLLOW_UP, False),
]


def seed_demo_user() -> int:
    """Create the demo user and their data if missing; the number of emails created."""
    with transaction.atomic():
        demo = _user(DEMO_USER, "Demo", "User", admin=True)
        teammates = [_user(name, first, last) for name, first, last in TEAMMATES]
        if Email.objects.filter(owner=demo).exists():
            return 0
        before = Email.objects.count()
        _demo_outbox(demo)
        for teammate in teammates:
            # A real user who happens to have a teammate's name is left alone.
            in_demo_team = teammate.team_id is not None and teammate.team_id == demo.team_id
            if in_demo_team and not Email.objects.filter(owner=teammate).exists():
                _teammate_outbox(teammate)
        return Email.objects.count() - before


def _user(username: str, first: str, last: str, *, admin: bool = False) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        password = "demo" if username == DEMO_USER else None
        user = create_user(
            username,
            email=f"{username}@demo.example",
            password=password,
            admin=admin,
            team_name=DEMO_TEAM,
        )
        user.first_name, user.last_name = first, last
        user.signature = f"{first} {last}\nAccount Executive, Command Center Demo"
        user.save(update_fields=["first_name", "last_name", "signature"])
    return user


def _people(owner: User) -> list[Person]:
    people = []
    for prospect in PROSPECTS:
        person, _ = Person.objects.get_or_create(
            owner=owner,
            email=prospect.address,
            defaults={
                "first_name": prospect.first_name,
                "last_name": prospect.last_name,
                "company": prospect.company,
                "title": prospect.title,
            },
        )
        people.append(person)
    return people


def _templates(owner: User) -> dict[str, Template]:
    """The demo's saved templates, by subject (every email of that content links to one)."""
    made = {}
    for name, content, shared in TEMPLATES:
        template, _ = Template.objects.get_or_create(
            owner=owner,
            name=name,
            defaults={
                "subject": content.subject,
                "body_text": content.body_text,
                "body_html": content.body_html,
                "shared": shared,
            },
        )
        made[content.subject] = template
    return made


def _link_templates(owner: User, templates: dict[str, Template]) -> None:
    for subject, template in templates.items():
        Email.objects.filter(owner=owner, template_subject=subject).update(template=template)


def _demo_outbox(demo: User) -> None:
    people = _people(demo)
    now = timezone.now()
    prospects = iter(people)
    templates = _templates(demo)
    _delivered_with_engagement(demo, prospects, now)
    _archived(demo, prospects, now)
    _scheduled(demo, prospects, now)
    _drafts(demo, prospects)
    _failed(demo, prospects, now)
    _bounced_and_spam(demo, prospects, now)
    _do_not_contact(next(prospects), now)
    _batches(demo, people, now)
    _link_templates(demo, templates)


def _delivered_with_engagement(demo: User, prospects: Iterator[Person], now: dt.datetime) -> None:
    # (days ago, opens, clicks, replies)
    engagement = [
        (1, 3, 1, 1),
        (2, 2, 0, 0),
        (2, 0, 0, 0),
        (4, 5, 2, 0),
        (6, 1, 0, 1),
        (9, 0, 0, 0),
    ]
    for days, opens, clicks, replies in engagement:
        person = next(prospects)
        sent = now - dt.timedelta(days=days, hours=2 * opens)
        email = _sent(demo, person, INTRO if days < 5 else FOLLOW_UP, sent)
        _engage(email, opens, clicks, replies)


def _archived(demo: User, prospects: Iterator[Person], now: dt.datetime) -> None:
    for days in (12, 20):
        email = _sent(demo, next(prospects), INTRO, now - dt.timedelta(days=days))
        actions.archive(email)


def _scheduled(demo: User, prospects: Iterator[Person], now: dt.datetime) -> None:
    # One due in a few minutes shows the sender at work under `make run`; the others wait days.
    for delay in (dt.timedelta(minutes=3), dt.timedelta(days=1, hours=2), dt.timedelta(days=3)):
        person = next(prospects)
        compose_single(
            demo,
            to=person.email,
            subject=FOLLOW_UP.subject,
            body_text=FOLLOW_UP.body_text,
            send_at=now + delay,
        )


def _drafts(demo: User, prospects: Iterator[Person]) -> None:
    compose_single(
        demo, to=next(prospects).email, subject="Pricing for next year", body_text="", draft=True
    )
    compose_single(
        demo,
        to=next(prospects).email,
        subject="Intro from Maria",
        body_text="Hi {{first_name}},\n\nMaria mentioned you're looking at ",
        draft=True,
    )


def _failed(demo: User, prospects: Iterator[Person], now: dt.datetime) -> None:
    rejected = next(prospects)
    email = _compose_now(demo, rejected, INTRO)
    _claim(email)
    transition(
        email.pk,
        Status.FAILED,
        kind="failed",
        reason=USER_UNKNOWN.format(address=rejected.email),
        payload=f"550 5.1.1 <{rejected.email}>: Recipient address rejected: User unknown",
        sources=[Status.IN_PROGRESS],
        updates={"failed_at": now - dt.timedelta(days=1, hours=3), "attempts": 1},
    )
    # A merge field that was there when the email was scheduled, and gone when it was due:
    # the sender fails it (compose itself refuses a field it cannot fill).
    lost_field = next(prospects)
    lost_field.custom_fields = {"industry": "insurance"}
    lost_field.save(update_fields=["custom_fields"])
    email = _compose_now(demo, lost_field, INDUSTRY)
    lost_field.custom_fields = {}
    lost_field.save(update_fields=["custom_fields"])
    _claim(email)
    transition(
        email.pk,
        Status.FAILED,
        kind="failed",
        reason=missing_reason(["industry"], [lost_field.email]),
        sources=[Status.IN_PROGRESS],
        updates={"claimed_by": "", "failed_at": now - dt.timedelta(hours=5)},
    )
    # compose puts this one in Failed itself: the person unsubscribed.
    unsubscribed = next(prospects)
    unsubscribed.unsubscribed_at = now - dt.timedelta(days=8)
    unsubscribed.save(update_fields=["unsubscribed_at"])
    _compose_now(demo, unsubscribed, FOLLOW_UP)


def _bounced_and_spam(demo: User, prospects: Iterator[Person], now: dt.datetime) -> None:
    # As bounce handling leaves them: a hard bounce puts the address on the suppression list.
    for days, (reason, hard, words) in enumerate(BOUNCES, start=2):
        email = _sent(demo, next(prospects), INTRO, now - dt.timedelta(days=days))
        detail = f"{reason}: {words}" + (" (hard bounce)" if hard else "")
        record_signal(
            email,
            "bounced",
            target=Status.BOUNCED,
            detail=detail,
            payload=f"Status: {'5' if hard else '4'}.x.x\nDiagnostic-Code: smtp; {words}",
            data={"reason": reason, "hard_bounce": hard},
        )
        _date_undelivered(email, (email.sent_at or now) + dt.timedelta(minutes=2))
        if hard:
            suppress(email.to_address, detail)
    # A complaint unsubscribes the person, as complaint handling does.
    email = _sent(demo, next(prospects), FOLLOW_UP, now - dt.timedelta(days=5))
    record_signal(
        email,
        "complained",
        target=Status.SPAM,
        detail="The recipient marked it as spam (abuse).",
        payload="Feedback-Type: abuse",
        data={"feedback_type": "abuse"},
    )
    _date_undelivered(email, now - dt.timedelta(days=4))
    unsubscribe_address(email.to_address)


def _do_not_contact(person: Person, now: dt.datetime) -> None:
    set_do_not_contact(person, True, "Asked on a call not to be emailed again.")
    Person.objects.filter(pk=person.pk).update(do_not_contact_at=now - dt.timedelta(days=3))


def _batches(demo: User, people: list[Person], now: dt.datetime) -> None:
    # A group email that went out yesterday, and a select-and-send waiting for next week.
    _, group = compose_bulk(
        demo,
        mode=Batch.Mode.GROUP,
        recipients=[Recipient(person.email) for person in people[:6]],
        content=WEBINAR,
    )
    for email in group:
        if email.status == Status.SCHEDULED:
            _deliver(email, now - dt.timedelta(days=1))
    _engage(group[0], 2, 1, 0)
    personal = {
        people[6].email: "Hi {{first_name}}, loved your talk at the Lisbon summit. Coffee?",
        people[7].email: "Hi {{first_name}}, congrats on the funding round! Time to talk?",
        people[8].email: "Hi {{first_name}}, following up on our chat at the booth.",
    }
    compose_bulk(
        demo,
        mode=Batch.Mode.SELECT_AND_SEND,
        recipients=[
            Recipient(address, Content("Great meeting you", text))
            for address, text in personal.items()
        ],
        content=Content("Great meeting you", "Hi {{first_name}},"),
        send_at=now + dt.timedelta(days=6),
    )


def _teammate_outbox(user: User) -> None:
    now = timezone.now()
    people = _people(user)
    for days, person in enumerate(people[:4], start=1):
        _sent(user, person, INTRO, now - dt.timedelta(days=days))
    compose_single(
        user,
        to=people[4].email,
        subject=FOLLOW_UP.subject,
        body_text=FOLLOW_UP.body_text,
        send_at=now + dt.timedelta(days=2),
    )


def _compose_now(user: User, person: Person, content: Content) -> Email:
    return compose_single(
        user,
        to=person.email,
        subject=content.subject,
        body_text=content.body_text,
        send_at=timezone.now() + dt.timedelta(days=30),
    )


def _claim(email: Email) -> None:
    transition(
        email.pk,
        Status.IN_PROGRESS,
        kind="claimed",
        sources=[Status.SCHEDULED],
        updates={"claimed_by": "demo-seed", "attempts": 1},
    )


def _sent(user: User, person: Person, content: Content, sent_at: dt.datetime) -> Email:
    """An email that went out at `sent_at`, as the sender would have left it."""
    email = _compose_now(user, person, content)
    _deliver(email, sent_at)
    email.refresh_from_db()
    return email


def _deliver(email: Email, sent_at: dt.datetime) -> None:
    _claim(email)
    transition(
        email.pk,
        Status.DELIVERED,
        kind="sent",
        payload="250 2.0.0 Ok: queued",
        sources=[Status.IN_PROGRESS],
        updates={
            "sent_at": sent_at,
            "send_at": sent_at,
            "message_id": f"<demo-{email.token}@demo.example>",
            "claimed_by": "",
        },
    )
    # The demo's history happened in the past: date its rows and events accordingly.
    Email.objects.filter(pk=email.pk).update(created_at=sent_at - dt.timedelta(minutes=5))
    for step, event in enumerate(Event.objects.filter(email_id=email.pk).order_by("id")):
        Event.objects.filter(pk=event.pk).update(
            created_at=sent_at - dt.timedelta(minutes=5) + dt.timedelta(seconds=step)
        )


# (user agent, what tracking's verdict says): a person on an iPhone, in Outlook, behind
# Gmail's image proxy, and Apple's privacy proxy fetching the pixel as the email arrives.
IPHONE_MAIL = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
OUTLOOK = "Mozilla/4.0 (compatible; ms-office; MSOffice 16)"
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
HUMAN_OPENS = [
    (IPHONE_MAIL, "a person's iOS (mail client or browser)"),
    (OUTLOOK, "a person's Outlook (mail client or browser)"),
    (
        GMAIL_PROXY,
        "Gmail's image proxy fetched the pixel as the recipient opened the email: "
        "a real open; Google hides the device",
    ),
]
PRIVACY_PREFETCH = (
    "Mozilla/5.0",
    "Apple Mail Privacy Protection prefetch (its proxy sends a bare 'Mozilla/5.0')",
)


def _engage(email: Email, opens: int, clicks: int, replies: int) -> None:
    """Opens, clicks and replies as tracking and inbound mail record them, in the hours after
    the email was sent; an engaged email also got one machine open that is not counted."""
    sent = email.sent_at or timezone.now()
    if opens:
        agent, reason = PRIVACY_PREFETCH
        _signal_at(email, sent + dt.timedelta(seconds=1), "opened", None, agent, reason, True)
    for number in range(opens):
        agent, reason = HUMAN_OPENS[number % len(HUMAN_OPENS)]
        at = sent + dt.timedelta(hours=1 + 3 * number)
        _signal_at(email, at, "opened", "opens", agent, reason, False)
    for number in range(clicks):
        at = sent + dt.timedelta(hours=2 + 3 * number)
        _signal_at(
            email,
            at,
            "clicked",
            "clicks",
            IPHONE_MAIL,
            HUMAN_OPENS[0][1],
            False,
            url="https://commandcenter.example/pricing",
        )
    for number in range(replies):
        record_signal(
            email,
            "replied",
            counter="replies",
            detail="Sounds good — Thursday 10:00 works for me.",
        )
        _date_last_event(email, sent + dt.timedelta(hours=5 + number))


def _signal_at(
    email: Email,
    at: dt.datetime,
    kind: str,
    counter: str | None,
    agent: str,
    reason: str,
    machine: bool,
    url: str = "",
) -> None:
    data = {"machine": machine, "reason": reason, "excluded": False, "user_agent": agent}
    if url:
        data["url"] = url
    record_signal(email, kind, counter=counter, detail=reason, data=data)
    _date_last_event(email, at)


def _date_undelivered(email: Email, at: dt.datetime) -> None:
    """A bounce or complaint that came in at `at`: its event, and the date its folder shows."""
    _date_last_event(email, at)
    Email.objects.filter(pk=email.pk).update(failed_at=at, sort_at=at)


def _date_last_event(email: Email, at: dt.datetime) -> None:
    last = Event.objects.filter(email_id=email.pk).order_by("-id").first()
    if last is not None:
        Event.objects.filter(pk=last.pk).update(created_at=min(at, timezone.now()))
