"""The first-party plugins in ``plugins/<name>/``: each a distribution of its own
(``community-<name>``, package ``community_<name>``), installed by ``make install`` and found
through its entry point like any brand's plugin, with migrations that go up and down."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from community import migrate
from community.plugins import ENTRY_POINT_GROUP, Plugins

ROOT = Path(__file__).parents[1]
PROJECTS = sorted((ROOT / "plugins").glob("*/pyproject.toml"))
NAMES = [path.parent.name for path in PROJECTS]


@pytest.fixture(scope="module")
def installed() -> Plugins:
    return Plugins()


@pytest.mark.parametrize("project", PROJECTS, ids=NAMES)
def test_each_is_a_distribution_found_through_its_entry_point(
    project: Path, installed: Plugins
) -> None:
    name = project.parent.name
    metadata = tomllib.loads(project.read_text())["project"]
    assert metadata["name"] == f"community-{name}"
    assert metadata["entry-points"][ENTRY_POINT_GROUP] == {name: f"community_{name}.plugin"}
    plugin = installed.installed.get(name)
    assert plugin is not None, f"{name} is not installed: run make install"
    assert plugin.loaded, plugin.refused


@pytest.mark.parametrize("name", NAMES)
def test_migrations_go_up_and_down(name: str, installed: Plugins, tmp_path: Path) -> None:
    module = installed.installed[name].module
    alone = Plugins(modules=[module], discover=False)
    if not alone.first(name, "register_migrations"):
        pytest.skip(f"{name} has no tables")
    url = f"sqlite+aiosqlite:///{tmp_path / 'plugin.db'}"
    migrate.upgrade(url, plugins=alone)
    migrate.check(url, plugins=alone)  # the models match the migrations
    migrate.downgrade(url, "base", plugin=name, plugins=alone)
    assert not migrate.is_current(url, plugins=alone)
    migrate.upgrade(url, plugins=alone)
    assert migrate.is_current(url, plugins=alone)
