"""Sending email through the SMTP server in ``COMMUNITY_SMTP_URL``, when there is one.

The core sends nothing by email yet; plugins do (the analytics digest) with ``send``, after
asking ``configured()``. Messages go out one connection each, in a thread, so the event loop
never waits on the network.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from community import plugins

TIMEOUT = 30.0
"""Seconds to wait for the SMTP server at each step."""


class MailError(RuntimeError):
    """The SMTP server refused the message or could not be reached."""


@dataclass(frozen=True)
class Mailer:
    """Where mail goes: ``smtp://user:password@host:587`` (STARTTLS when the server offers it,
    or always with ``?starttls=yes``), ``smtps://...:465`` (TLS from the start)."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    tls: bool = False
    starttls: bool | None = None
    """None: when the server offers it."""

    @classmethod
    def from_url(cls, url: str, sender: str) -> Mailer:
        """The mailer ``url`` describes; ValueError saying what is wrong."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"not an smtp:// or smtps:// URL: {url!r}")
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 25)
        except ValueError:
            raise ValueError(f"bad port in {url!r}") from None
        query = {key: values[-1].lower() for key, values in parse_qs(parts.query).items()}
        starttls = query.get("starttls")
        if starttls not in (None, "yes", "no"):
            raise ValueError(f"starttls is yes or no in {url!r}")
        return cls(
            host=parts.hostname,
            port=port,
            sender=sender,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=parts.scheme == "smtps",
            starttls=None if starttls is None else starttls == "yes",
        )

    async def send(self, to: list[str], subject: str, text: str) -> None:
        """Send a plain-text message to each address of ``to`` (one message, addressed to the
        sender so the recipients don't see each other); MailError when the server refuses
        it."""
        if not to:
            return
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = self.sender
        message["Subject"] = subject
        message.set_content(text)
        await asyncio.to_thread(self._deliver, message, to)

    def _deliver(self, message: EmailMessage, to: list[str]) -> None:
        try:
            if self.tls:
                context = ssl.create_default_context()
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=TIMEOUT, context=context
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT)
            with client:
                client.ehlo()
                offered = client.has_extn("starttls")
                if not self.tls and (self.starttls or (self.starttls is None and offered)):
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                if self.username:
                    client.login(self.username, self.password or "")
                client.send_message(message, to_addrs=to)
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"mail to {', '.join(to)} not sent: {exc}") from exc


def _mailer() -> Mailer | None:
    current = plugins.active()
    return current.plugins.mailer if current is not None else None


def configured() -> bool:
    """Whether this instance can send email (``COMMUNITY_SMTP_URL`` is set)."""
    return _mailer() is not None


async def send(to: list[str], subject: str, text: str) -> None:
    """Send a plain-text message to ``to``; MailError when it cannot go, RuntimeError when
    email is not configured (ask ``configured()`` first)."""
    mailer = _mailer()
    if mailer is None:
        raise RuntimeError("email is not configured: set COMMUNITY_SMTP_URL")
    await mailer.send(to, subject, text)
