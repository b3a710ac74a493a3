"""What the sender adds to each email for tracking and unsubscribes.

The sender calls these two functions while it builds a message; they are the whole
interface between delivery and tracking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from commandcenter.outbox.models import Email


def instrument(email: Email, body_html: str, body_text: str) -> tuple[str, str]:
    """The rendered bodies with links rewritten and the open pixel added."""
    return body_html, body_text


def unsubscribe_headers(email: Email) -> dict[str, str]:
    """List-Unsubscribe and List-Unsubscribe-Post headers for the email."""
    return {}
