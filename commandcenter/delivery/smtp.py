"""The SMTP email backend of EMAIL_URL=smtp://…: Django's, greeting the server as EMAIL_HELO_NAME.

Django's backend says EHLO with the machine's own idea of its name (`socket.getfqdn()`), which on
most servers and containers is "localhost" or a bare host name; relays reject both. The name we
give instead comes from settings (see `commandcenter.lib.config.helo_name`).
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend as DjangoSmtpBackend


class EmailBackend(DjangoSmtpBackend):
    @property
    def connection_class(self) -> Callable[..., smtplib.SMTP]:
        make = smtplib.SMTP_SSL if self.use_ssl else smtplib.SMTP
        helo = settings.EMAIL_HELO_NAME

        def connect(host: str, port: int, **params: Any) -> smtplib.SMTP:
            # open() passes local_hostname=DNS_NAME.get_fqdn(): ours replaces it.
            return make(host, port, **{**params, "local_hostname": helo})

        return connect
