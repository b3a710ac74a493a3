"""Sending through a real Postfix, and what Postfix itself sends back.

Our worker (`commandcenter worker --once`, EMAIL_URL at the instance's submission port) sends;
Postfix delivers to a virtual mailbox, bounces an unknown user with its own DSN, or keeps
retrying a next hop that answers 4xx (an aiosmtpd on loopback) until the message expires.
The DSNs come back to the VERP envelope sender bounce+TOKEN@…: by the pipe transport running
`commandcenter ingest` as an unprivileged user, or through a transport-map entry to our SMTP
listener `commandcenter inbound-smtp`.

The queue timings are seconds instead of hours so that "delayed" and "expired" arrive
while the test waits (Postfix caps bounce_queue_lifetime, for DSNs, at the same 6 s).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterator

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from commandcenter.accounts.models import User
from commandcenter.delivery.testing import Fault, SmtpSink, free_port, subprocess_env
from commandcenter.outbox.compose import compose_single
from commandcenter.outbox.states import Status
from commandcenter.people.models import Suppression
from commandcenter.signals.models import InboundMessage
from commandcenter.signals.tests.postfix import (
    LISTENER_TRANSPORT,
    SCRIPT,
    Pipe,
    Postfix,
    Setup,
    header,
    kinds,
    listening,
    pipe_environment,
    queue_id,
    running_postfix,
    send_due,
    wait_for_status,
    wait_until,
)

BOUNCES = "bounces.test"  # routed to the pipe
LISTENER_BOUNCES = "listener-bounces.test"  # routed to inbound-smtp
SLOW = "slow.test"  # routed to a next hop that answers 451
MAILBOX = "pat@inbox.test"
UNKNOWN = "ghost@inbox.test"

TIMINGS = {
    # Postfix's "delayed mail" warning after a second instead of never, the message given up
    # after a few seconds instead of five days; the deferred queue scanned every second.
    "delay_warning_time": "1s",
    "maximal_queue_lifetime": "6s",
    "queue_run_delay": "1s",
    "minimal_backoff_time": "1s",
    "maximal_backoff_time": "2s",
}

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def next_hop() -> Iterator[SmtpSink]:
    with SmtpSink(
        [Fault("RCPT", "451 4.7.1 <lee@slow.test>: greylisted, try again later")]
    ) as sink:
        yield sink


@pytest.fixture(scope="module")
def listener(django_db_setup: None) -> Iterator[int]:
    """`commandcenter inbound-smtp` on a free port, for LISTENER_BOUNCES."""
    port = free_port()
    with tempfile.TemporaryFile() as output:
        server = subprocess.Popen(
            [str(SCRIPT), "inbound-smtp", "--port", str(port)],
            env=subprocess_env(BOUNCE_DOMAIN=LISTENER_BOUNCES),
            stdout=output,
            stderr=subprocess.STDOUT,
        )

        def said() -> str:
            output.seek(0)
            return "inbound-smtp said:\n" + output.read().decode(errors="replace")

        try:
            wait_until("inbound-smtp to listen", lambda: listening(port), 60, explain=said)
            yield port
        finally:
            server.terminate()
            server.wait(timeout=30)


@pytest.fixture(scope="module")
def postfix(django_db_setup: None, next_hop: SmtpSink, listener: int) -> Iterator[Postfix]:
    setup = Setup(
        relay_domains=[BOUNCES, LISTENER_BOUNCES],
        mailboxes=[MAILBOX],
        pipes=[Pipe("commandcenter", pipe_environment(BOUNCE_DOMAIN=BOUNCES))],
        transports={
            BOUNCES: "commandcenter:",
            LISTENER_BOUNCES: LISTENER_TRANSPORT.format(port=listener),
            SLOW: f"smtp:[127.0.0.1]:{next_hop.port}",
        },
        main_cf={
            **TIMINGS,
            # A relay takes the message first and finds out later, as it does for a remote
            # domain: an unknown user then comes back as Postfix's own DSN, not as a
            # refusal at RCPT TO.
            "smtpd_reject_unlisted_recipient": "no",
        },
    )
    with running_postfix(setup) as running:
        yield running


def test_it_delivers_one_copy_to_a_local_mailbox(alice: User, postfix: Postfix) -> None:
    email = compose_single(alice, to=MAILBOX, subject="Pricing", body_text="Hello Pat")
    send_due(postfix, BOUNCES)

    email.refresh_from_db()
    assert email.status == Status.DELIVERED
    assert kinds(email) == ["created", "claimed", "sent"]
    queued = queue_id(postfix, email.message_id)
    postfix.wait_for_log(rf"{queued}: to=<{re.escape(MAILBOX)}>, relay=virtual, .* status=sent")
    postfix.wait_for_log(rf"{queued}: removed")
    copies = [
        raw for raw in postfix.mailbox(MAILBOX) if header(raw, "Message-ID") == email.message_id
    ]
    assert len(copies) == 1
    # The virtual delivery agent writes the envelope sender down: our VERP address.
    assert header(copies[0], "Return-Path") == f"<bounce+{email.token}@{BOUNCES}>"
    assert b"Hello Pat" in copies[0]


# How a DSN to each bounce domain comes back: (source recorded, Postfix's relay= for it).
PATHS = {
    # The pipe transport, `commandcenter ingest` run as the pipe's user.
    BOUNCES: ("postfix", r"relay=commandcenter, "),
    # A transport-map entry to our SMTP listener, `commandcenter inbound-smtp`.
    LISTENER_BOUNCES: ("smtp", r"relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, "),
}


@pytest.mark.parametrize("bounce_domain", PATHS)
def test_postfix_s_own_bounce_of_an_unknown_user_comes_back(
    bounce_domain: str, alice: User, postfix: Postfix, settings: SettingsWrapper
) -> None:
    source, relay = PATHS[bounce_domain]
    settings.BOUNCE_DOMAIN = bounce_domain
    email = compose_single(alice, to=UNKNOWN, subject="Pricing", body_text="Hello")
    send_due(postfix, bounce_domain)

    email = wait_for_status(postfix, email, Status.BOUNCED)
    assert email.reason.startswith("userunknown: "), email.reason
    assert "(hard bounce)" in email.reason
    assert Suppression.objects.filter(value=UNKNOWN).exists()
    assert kinds(email) == ["created", "claimed", "sent", "bounced"]
    verp = f"bounce+{email.token}@{bounce_domain}"
    inbound = InboundMessage.objects.get(email=email)
    # A DSN's empty envelope sender reaches us empty (the pipe's null_sender=), not as
    # MAILER-DAEMON or "<>".
    assert (inbound.source, inbound.kind, inbound.envelope_sender, inbound.envelope_recipient) == (
        source,
        "bounce",
        "",
        verp,
    )
    postfix.wait_for_log(rf"to=<{re.escape(verp)}>, {relay}.* status=sent")


def test_mail_for_any_other_domain_bounces_here_and_never_leaves(
    alice: User, postfix: Postfix, settings: SettingsWrapper
) -> None:
    settings.BOUNCE_DOMAIN = BOUNCES
    email = compose_single(alice, to="someone@example.org", subject="Pricing", body_text="Hi")
    send_due(postfix, BOUNCES)

    email.refresh_from_db()
    queued = queue_id(postfix, email.message_id)
    postfix.wait_for_log(
        rf"{queued}: to=<someone@example\.org>, relay=none, .* status=bounced "
        r"\(nothing leaves the machine in tests\)"
    )
    email = wait_for_status(postfix, email, Status.BOUNCED)
    assert "nothing leaves the machine in tests" in email.reason
    # Whatever the tests of this module did, Postfix delivered only on this machine.
    relays = {
        re.sub(r":\d+$", ":PORT", relay) for relay in re.findall(r"relay=([^,]+),", postfix.log())
    }
    assert relays <= {"none", "virtual", "commandcenter", "127.0.0.1[127.0.0.1]:PORT"}, relays


def test_a_deferring_next_hop_brings_the_delayed_then_the_expired_dsn(
    alice: User, postfix: Postfix, next_hop: SmtpSink, settings: SettingsWrapper
) -> None:
    settings.BOUNCE_DOMAIN = BOUNCES
    email = compose_single(alice, to="lee@slow.test", subject="Pricing", body_text="Hello")
    send_due(postfix, BOUNCES)

    # Postfix's "delayed mail" warning: still Delivered, an event that says it is retrying.
    delayed = postfix.wait_for(
        "the delayed DSN",
        lambda: email.events.filter(kind="deferred_bounce").first(),
        timeout=60,
    )
    assert delayed.detail.startswith("still trying: "), delayed.detail
    assert "451 4.7.1" in delayed.detail
    email.refresh_from_db()
    assert email.status == Status.DELIVERED

    # Then the "expired" one, when Postfix gives up (Action: failed, Status: 4.7.1, the last
    # reply as the diagnostic): Bounced with the server's words, a soft bounce, the address
    # kept. (sisimai, the reference, names it "blocked", from the word "greylisted".)
    verp = f"bounce+{email.token}@{BOUNCES}"
    queued = queue_id(postfix, email.message_id)
    postfix.wait_for_log(rf"{queued}: from=<{re.escape(verp)}>, status=expired, returned to sender")
    postfix.wait_for(
        "the expired DSN through the pipe",
        lambda: (
            InboundMessage.objects.filter(envelope_recipient=verp, source="postfix").count() == 2
        ),
    )
    email.refresh_from_db()
    assert email.status == Status.BOUNCED, kinds(email)
    assert email.reason.endswith("451 4.7.1 <lee@slow.test>: greylisted, try again later")
    assert not email.reason.startswith("still trying")
    assert not Suppression.objects.filter(value="lee@slow.test").exists()
    # The next hop never took the message: every attempt stopped at RCPT TO.
    assert next_hop.messages == []
    assert next_hop.connections >= 2
