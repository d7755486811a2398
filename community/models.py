"""Imports every core model module so that ``Base.metadata`` knows all tables."""

from __future__ import annotations


def load_models() -> None:
    import community.accounts.models  # noqa: F401
    import community.forum.models  # noqa: F401
    import community.jobs  # noqa: F401
    import community.plugins  # noqa: F401
