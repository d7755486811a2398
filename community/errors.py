"""The one error type that services raise; HTTP, HTML and CLI layers each render it."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A request the service refuses, with a stable ``code`` and a ``detail`` for people.

    ``status`` is the HTTP status the web layer answers with; the CLI exits with 2.
    """

    def __init__(self, code: str, detail: str, status: int = 400, **extra: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        return {"error": self.code, "detail": self.detail, **self.extra}
