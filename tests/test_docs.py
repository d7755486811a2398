"""The plugin guide documents every hook in the API, with its signature."""

from __future__ import annotations

import re
from pathlib import Path

from community import hookspecs
from community.web.slots import Slot

GUIDE = (Path(__file__).parent.parent / "docs" / "plugins.md").read_text()


def test_every_hook_is_in_the_guide():
    documented = set(re.findall(r"^### `(\w+)`$", GUIDE, re.MULTILINE))
    assert documented == set(hookspecs.CAPABILITIES)


def test_every_slot_is_in_the_guide():
    for slot in Slot:
        assert f"| `{slot.name}` |" in GUIDE, slot.name
