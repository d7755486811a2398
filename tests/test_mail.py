"""Email: ``COMMUNITY_SMTP_URL`` read and checked, messages delivered to a real SMTP server."""

from __future__ import annotations

from pathlib import Path

import pytest

from community import mail, plugins
from community.mail import Mailer, MailError
from community.settings import SettingsError, load_settings


def test_not_configured_by_default(tmp_path: Path) -> None:
    settings = load_settings({"COMMUNITY_VAR_DIR": str(tmp_path)})
    assert settings.smtp_url is None
    assert settings.mail_from == "community@127.0.0.1"


def test_smtp_url_read(tmp_path: Path) -> None:
    env = {
        "COMMUNITY_VAR_DIR": str(tmp_path),
        "COMMUNITY_SMTP_URL": "smtp://bot%40x.org:p%3Ass@mail.x.org:587?starttls=yes",
        "COMMUNITY_BASE_URL": "https://forum.x.org",
    }
    settings = load_settings(env)
    assert settings.mail_from == "community@forum.x.org"
    mailer = Mailer.from_url(settings.smtp_url or "", settings.mail_from)
    assert (mailer.host, mailer.port, mailer.username, mailer.password) == (
        "mail.x.org",
        587,
        "bot@x.org",
        "p:ss",
    )
    assert mailer.starttls is True and not mailer.tls
    assert Mailer.from_url("smtps://mail.x.org", "a@b.c").port == 465


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("COMMUNITY_SMTP_URL", "http://mail.x.org", "not an smtp:// or smtps:// URL"),
        ("COMMUNITY_SMTP_URL", "smtp://mail.x.org:99999", "bad port"),
        ("COMMUNITY_SMTP_URL", "smtp://mail.x.org?starttls=maybe", "starttls is yes or no"),
        ("COMMUNITY_MAIL_FROM", "nobody", "not an email address"),
    ],
)
def test_bad_mail_settings(tmp_path: Path, name: str, value: str, message: str) -> None:
    env = {"COMMUNITY_VAR_DIR": str(tmp_path), "COMMUNITY_SMTP_URL": "smtp://m.x.org", name: value}
    with pytest.raises(SettingsError, match=message) as raised:
        load_settings(env)
    assert str(raised.value).startswith(name)


async def test_send_through_the_app(app: object, outbox: list) -> None:
    with plugins.activated(app.state.plugins, {}):  # type: ignore[attr-defined]
        assert mail.configured()
        await mail.send(["ann@x.test", "bob@x.test"], "Weekly digest", "Posts up 18%.")
    [message] = outbox
    assert message["Subject"] == "Weekly digest"
    assert message["From"] == "community@example.test"
    assert message["X-Envelope-To"] == "ann@x.test, bob@x.test"
    assert message.get_content().strip() == "Posts up 18%."


async def test_not_configured_in_the_app(app: object) -> None:
    with plugins.activated(app.state.plugins, {}):  # type: ignore[attr-defined]
        assert not mail.configured()
        with pytest.raises(RuntimeError, match="COMMUNITY_SMTP_URL"):
            await mail.send(["ann@x.test"], "Hi", "Hello")


async def test_unreachable_server_is_a_mail_error() -> None:
    mailer = Mailer("127.0.0.1", 9, "community@example.test")  # discard port: refused
    with pytest.raises(MailError, match="not sent"):
        await mailer.send(["ann@x.test"], "Hi", "Hello")
