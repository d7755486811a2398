"""Gates: rejects "spam", holds "maybe", and fails (so holds) on "boom"; softens "darn"."""

from __future__ import annotations

from typing import Any

from community import hookimpl
from community.plugins import Gate, Manifest

MANIFEST = Manifest(
    name="gatekeeper",
    version="1.0",
    description="Checks posts and threads.",
    api=">=1.0,<2",
    capabilities={"gates"},
)


def verdict(text: str) -> Gate | None:
    if "boom" in text:
        raise RuntimeError("the gate broke")
    if "spam" in text:
        return Gate.reject("No spam, please.")
    if "maybe" in text:
        return Gate.hold("It says maybe.")
    return None


@hookimpl
def check_post(member: Any, thread: Any, body: str, editing: bool) -> Gate | None:
    return verdict(body)


@hookimpl
async def check_thread(member: Any, category: Any, title: str, body: str) -> Gate | None:
    return verdict(title + " " + body)


@hookimpl
def rewrite_text(text: str, kind: str) -> str | None:
    """Softens "darn" in titles and bodies; "kaboom" makes the rewrite fail (it is skipped)."""
    if "kaboom" in text:
        raise RuntimeError("the rewrite broke")
    return text.replace("darn", "dang") if "darn" in text else None
