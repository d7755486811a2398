"""The plugin guide documents every hook in the API, with its signature; and every hook has
a test of its own, marked ``@pytest.mark.hook("name")``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from community import hookspecs
from community.web.slots import Slot

TESTS = Path(__file__).parent
GUIDE = (TESTS.parent / "docs" / "plugins.md").read_text()


def test_every_hook_is_in_the_guide():
    documented = set(re.findall(r"^### `(\w+)`$", GUIDE, re.MULTILINE))
    assert documented == set(hookspecs.CAPABILITIES)


def test_every_slot_is_in_the_guide():
    for slot in Slot:
        assert f"| `{slot.name}` |" in GUIDE, slot.name


def hooks_with_tests() -> set[str]:
    """The hooks named by ``@pytest.mark.hook(...)`` on test functions."""
    found = set()
    for path in TESTS.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if not node.name.startswith("test_"):
                continue
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and ast.unparse(decorator.func) == "pytest.mark.hook"
                ):
                    found.update(arg.value for arg in decorator.args)  # type: ignore[attr-defined]
    return found


def test_every_hook_has_a_test_of_its_own():
    tested = hooks_with_tests()
    assert set(hookspecs.CAPABILITIES) - tested == set(), "hooks without a marked test"
    assert tested - set(hookspecs.CAPABILITIES) == set(), "marks naming no hook"
