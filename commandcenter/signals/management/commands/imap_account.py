"""`commandcenter imap-account add|list|remove`: the rep mailboxes that `imap-poll` reads.

    commandcenter imap-account add --user alice --host imap.example.com \
        --username alice@example.com --password-file /run/secrets/alice-imap
    commandcenter imap-account list
    commandcenter imap-account remove 3

The password is never taken on the command line (it would sit in the shell history and in
every `ps` listing): it comes from a file (its first line) or an environment variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from commandcenter.accounts.models import User
from commandcenter.signals.models import ImapAccount

IMAPS_PORT = 993
IMAP_PORT = 143


class Command(BaseCommand):
    help = "Add, list or remove the IMAP mailboxes polled by `imap-poll`."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="Poll one more mailbox for a user.")
        add.add_argument("--user", required=True, help="The rep the mailbox belongs to.")
        add.add_argument("--host", required=True)
        add.add_argument("--port", type=int, help="Default 993 (SSL) or 143 (--no-ssl).")
        add.add_argument("--username", required=True, help="The IMAP login.")
        secret = add.add_mutually_exclusive_group(required=True)
        secret.add_argument("--password-file", help="A file whose first line is the password.")
        secret.add_argument("--password-env", help="An environment variable holding it.")
        add.add_argument("--no-ssl", action="store_true", help="Plain IMAP (loopback only!).")
        add.add_argument("--folder", default="INBOX")
        actions.add_parser("list", help="The mailboxes polled, with their last poll.")
        remove = actions.add_parser("remove", help="Stop polling a mailbox.")
        remove.add_argument("id", type=int, help="The account id shown by `list`.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "add":
            self.add(options)
        elif action == "list":
            self.list_accounts()
        else:
            self.remove(options["id"])

    def add(self, options: dict[str, Any]) -> None:
        user = User.objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no user named {options['user']!r}")
        password = read_password(options["password_file"], options["password_env"])
        port = options["port"]
        if port is None:
            port = IMAP_PORT if options["no_ssl"] else IMAPS_PORT
        if not 0 < port < 65536:
            raise CommandError(f"--port must be between 1 and 65535, not {port}")
        for name in ("host", "username", "folder"):
            if not options[name].strip():
                raise CommandError(f"--{name} must not be empty")
        account = ImapAccount.objects.create(
            user=user,
            host=options["host"].strip(),
            port=port,
            username=options["username"],
            password=password,
            ssl=not options["no_ssl"],
            folder=options["folder"],
        )
        self.stdout.write(f"added account {account.pk}: {account} for {user.username}")

    def list_accounts(self) -> None:
        accounts = ImapAccount.objects.select_related("user").order_by("pk")
        if not accounts:
            self.stdout.write("no IMAP accounts")
        for account in accounts:
            security = "ssl" if account.ssl else "plain"
            polled = f"{account.last_polled_at:%Y-%m-%d %H:%M}" if account.last_polled_at else "-"
            error = f"  error: {account.last_error}" if account.last_error else ""
            self.stdout.write(
                f"{account.pk}  {account.user.username}  {account} ({security})  "
                f"last uid {account.last_uid}  polled {polled}{error}"
            )

    def remove(self, account_id: int) -> None:
        deleted, _ = ImapAccount.objects.filter(pk=account_id).delete()
        if not deleted:
            raise CommandError(f"no IMAP account {account_id}")
        self.stdout.write(f"removed account {account_id}")


def read_password(path: str | None, variable: str | None) -> str:
    """The password from a file (its first line) or an environment variable; never empty."""
    if path:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"cannot read the password file {path}: {error}") from error
        password = lines[0] if lines else ""
        source = f"the password file {path}"
    else:
        assert variable is not None  # argparse demands one of the two
        password = os.environ.get(variable, "")
        source = f"the environment variable {variable}"
    if not password:
        raise CommandError(f"{source} holds no password")
    return password
