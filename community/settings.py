"""Typed settings read from ``COMMUNITY_*`` environment variables.

Every field is documented here and in the README. A bad value raises :class:`SettingsError`,
which the CLI turns into one line on stderr and exit code 2.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

NAMESPACE = re.compile(r"[a-z0-9_-]{1,40}")


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    """SQLAlchemy async URL. Default: SQLite file ``./var/community.db``."""
    redis_url: str | None
    """Redis URL; when unset, sessions, rate limits, caches and pub/sub stay in-process."""
    secret_key: str
    """Signs CSRF tokens. Default: generated once and kept in ``./var/secret_key``."""
    base_url: str
    """Public URL of the site, used in invite links. Default ``http://127.0.0.1:8000``."""
    name: str
    """The community's name until an admin changes it in the instance settings."""
    var_dir: Path
    """Where the embedded database, sessions and the generated secret live."""
    smtp_url: str | None = None
    """``smtp://user:password@host:587`` or ``smtps://...``: where email goes; unset, none is
    sent."""
    mail_from: str = ""
    """The sender of email. Default ``community@`` the host of ``base_url``."""
    redis_namespace: str = "community"
    """What every Redis key and channel starts with: sites sharing one Redis server need
    different ones (pub/sub channels ignore the database number)."""

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")


def _database_url(value: str) -> str:
    name = "COMMUNITY_DATABASE_URL"
    try:
        url = make_url(value)
    except (ArgumentError, ValueError):
        raise SettingsError(f"{name}: not a database URL: {value!r}") from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        url = url.set(drivername="sqlite+aiosqlite")
    elif backend in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+asyncpg")
    else:
        raise SettingsError(f"{name}: unsupported database {backend!r}; use sqlite or postgresql")
    return url.render_as_string(hide_password=False)


def _redis_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("redis", "rediss", "unix") or not (parts.hostname or parts.path):
        raise SettingsError(f"COMMUNITY_REDIS_URL: not a redis:// URL: {value!r}")
    return value


def _base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"COMMUNITY_BASE_URL: must be an http:// or https:// URL: {value!r}")
    if "?" in value or "#" in value:
        raise SettingsError(f"COMMUNITY_BASE_URL: must not have a query or fragment: {value!r}")
    return value.rstrip("/")


def _smtp(url: str, sender: str) -> None:
    from community.mail import Mailer

    try:
        Mailer.from_url(url, sender)
    except ValueError as exc:
        raise SettingsError(f"COMMUNITY_SMTP_URL: {exc}") from None
    if "@" not in sender or any(c in sender for c in "\r\n<>, "):
        raise SettingsError(f"COMMUNITY_MAIL_FROM: not an email address: {sender!r}")


def _secret_key(value: str | None, var_dir: Path) -> str:
    if value is not None:
        if len(value) < 32:
            raise SettingsError("COMMUNITY_SECRET_KEY: must be at least 32 characters long")
        return value
    path = var_dir / "secret_key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        # Written to a private temporary file and renamed, so a crash never leaves half a key.
        temporary = var_dir / f".secret_key.{os.getpid()}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
        os.replace(temporary, path)
    key = path.read_text().strip()
    if len(key) < 32:
        raise SettingsError(
            f"COMMUNITY_SECRET_KEY: the generated key in {path} is damaged; delete the file"
        )
    return key


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    var_dir = Path(env.get("COMMUNITY_VAR_DIR", "var")).resolve()
    database_url = env.get("COMMUNITY_DATABASE_URL") or f"sqlite:///{var_dir / 'community.db'}"
    redis_url = env.get("COMMUNITY_REDIS_URL") or None
    name = env.get("COMMUNITY_NAME", "Community").strip()
    if not name or len(name) > 100:
        raise SettingsError("COMMUNITY_NAME: must be 1 to 100 characters")
    base_url = _base_url(env.get("COMMUNITY_BASE_URL") or "http://127.0.0.1:8000")
    smtp_url = env.get("COMMUNITY_SMTP_URL") or None
    mail_from = (env.get("COMMUNITY_MAIL_FROM") or "").strip()
    if not mail_from:
        mail_from = f"community@{urlsplit(base_url).hostname}"
    if smtp_url:
        _smtp(smtp_url, mail_from)
    namespace = (env.get("COMMUNITY_REDIS_NAMESPACE") or "community").strip()
    if not NAMESPACE.fullmatch(namespace):
        raise SettingsError(
            "COMMUNITY_REDIS_NAMESPACE: 1 to 40 lowercase letters, digits, '-' or '_', "
            f"not {namespace!r}"
        )
    return Settings(
        database_url=_database_url(database_url),
        redis_url=_redis_url(redis_url) if redis_url else None,
        secret_key=_secret_key(env.get("COMMUNITY_SECRET_KEY") or None, var_dir),
        base_url=base_url,
        name=name,
        var_dir=var_dir,
        smtp_url=smtp_url,
        mail_from=mail_from,
        redis_namespace=namespace,
    )
