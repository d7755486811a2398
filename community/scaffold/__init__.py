"""``community plugins new NAME``: a working plugin to start from, written from the files in
this folder: the ``.tmpl`` suffix goes, and ``__NAME__``, ``__TITLE__`` and ``__DATE__`` are
filled in, in paths and in text."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from community.errors import ServiceError
from community.plugins import MAX_NAME, NAME_CHARS

HERE = Path(__file__).parent


def check_name(name: str) -> str:
    if not name or not set(name) <= NAME_CHARS or not name[0].isalpha() or len(name) > MAX_NAME:
        raise ServiceError(
            "invalid_name",
            f"{name!r} is not a plugin name: use lower-case letters and digits, starting "
            f"with a letter, at most {MAX_NAME} (e.g. 'hello')",
            422,
        )
    return name


def write(name: str, parent: Path) -> Path:
    """Write the plugin ``name`` into ``parent/community-<name>`` and return that folder."""
    check_name(name)
    target = parent / f"community-{name}"
    if target.exists():
        raise ServiceError("exists", f"{target} already exists; pick another folder or name", 409)
    values = {
        "__NAME__": name,
        "__TITLE__": name.capitalize(),
        "__DATE__": date.today().isoformat(),
    }
    for source in sorted(HERE.rglob("*.tmpl")):
        path = _fill(str(source.relative_to(HERE).with_suffix("")), values)
        destination = target / path
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(_fill(source.read_text(), values))
    return target


def _fill(text: str, values: dict[str, str]) -> str:
    for token, value in values.items():
        text = text.replace(token, value)
    return text
