"""The admin page for plugins: what is installed, what each may do, enable, disable, settings,
and health."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, Router, get, post
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins as plugin_api
from community.accounts.auth import require_admin
from community.accounts.routes import Form
from community.accounts.services import list_groups
from community.errors import ServiceError
from community.web import render

Request_ = Request[Any, Any, Any]


async def _page(
    request: Request_, db: AsyncSession, status_code: int = 200, **context: Any
) -> Template:
    manager: plugin_api.Plugins = request.app.state.plugins
    site = request.state.site
    enabled = plugin_api.Plugins.enabled_in(site)
    health = await plugin_api.read_health(db)
    grants = site.get(plugin_api.GRANTS_KEY) or {}
    catalogue = plugin_api.event_catalogue(manager)
    rows = [
        {
            "plugin": plugin,
            "enabled": plugin.name in enabled,
            "fields": plugin_api.settings_fields(plugin, site),
            "health": health.get(plugin.name, plugin_api.Health()),
            "grants": {p.name: set(grants.get(p.name, [])) for p in plugin.permissions},
            "event_types": [entry for entry in catalogue if entry["source"] == plugin.name],
        }
        for plugin in sorted(manager.installed.values(), key=lambda p: p.name)
    ]
    groups = [group for group, _ in await list_groups(db)]
    context.setdefault("field_errors", {})
    return render(
        request,
        "admin/plugins.html",
        status_code=status_code,
        rows=rows,
        groups=groups,
        tab="plugins",
        **context,
    )


@get("/")
async def plugins_page(
    request: Request_,
    db: AsyncSession,
    enabled: str | None = None,
    disabled: str | None = None,
    saved: str | None = None,
    granted: str | None = None,
) -> Template:
    notice = (
        f"Enabled {enabled}."
        if enabled
        else f"Disabled {disabled}."
        if disabled
        else f"Saved the settings of {saved}."
        if saved
        else f"Saved who may {granted}."
        if granted
        else None
    )
    return await _page(request, db, notice=notice)


@post("/{name:str}/enable", status_code=200)
async def enable(request: Request_, db: AsyncSession, name: str) -> Template | Redirect:
    try:
        await plugin_api.set_enabled(db, request.app.state.plugins, name, True)
    except ServiceError as error:
        return await _page(request, db, error.status, error=error.detail)
    return Redirect(f"/admin/plugins?enabled={name}", status_code=303)


@post("/{name:str}/disable", status_code=200)
async def disable(request: Request_, db: AsyncSession, name: str) -> Redirect:
    await plugin_api.set_enabled(db, request.app.state.plugins, name, False)
    return Redirect(f"/admin/plugins?disabled={name}", status_code=303)


@post("/{name:str}/settings", status_code=200)
async def save_settings(
    request: Request_, db: AsyncSession, name: str, data: Form
) -> Template | Redirect:
    try:
        await plugin_api.save_settings(db, request.app.state.plugins, name, data)
    except ServiceError as error:
        return await _page(
            request,
            db,
            error.status,
            error=error.detail,
            field_errors={name: error.extra.get("errors", {})},
            submitted={name: data},
        )
    return Redirect(f"/admin/plugins?saved={name}#plugin-{name}", status_code=303)


@post("/{name:str}/permissions", status_code=200)
async def save_grants(
    request: Request_, db: AsyncSession, name: str, data: Form
) -> Template | Redirect:
    permission = str(data.get("permission") or "")
    raw = data.get("groups") or []
    raw = raw if isinstance(raw, list) else [raw]
    if not permission.startswith(f"{name}.") or not all(
        re.fullmatch(r"[0-9]{1,9}", str(v)) for v in raw
    ):
        return await _page(request, db, 422, error="That form was not filled in as expected.")
    try:
        await plugin_api.save_grants(
            db, request.app.state.plugins, permission, [int(v) for v in raw]
        )
    except ServiceError as error:
        return await _page(request, db, error.status, error=error.detail)
    return Redirect(f"/admin/plugins?granted={permission}#plugin-{name}", status_code=303)


router = Router(
    path="/admin/plugins",
    route_handlers=[plugins_page, enable, disable, save_settings, save_grants],
    guards=[require_admin],
    include_in_schema=False,
)


# ---------------------------------------------------------------------------------------------
# The same, as JSON for admins' scripts: /api/v1/plugins


def plugin_json(plugin: plugin_api.Plugin, enabled: bool, health: plugin_api.Health) -> Any:
    manifest = plugin.manifest
    return {
        "name": plugin.name,
        "version": manifest.version if manifest else None,
        "description": manifest.description if manifest else None,
        "api": manifest.api if manifest else None,
        "capabilities": sorted(manifest.capabilities) if manifest else [],
        "loaded": plugin.loaded,
        "refused": plugin.refused,
        "enabled": enabled,
        "health": {"status": health.status, "errors": health.errors, "slow": health.slow},
        "permissions": [
            {"name": p.name, "description": p.description, "roles": list(p.roles)}
            for p in plugin.permissions
        ],
    }


@get("/")
async def list_plugins(request: Request_, db: AsyncSession) -> dict[str, Any]:
    """Every installed plugin: manifest, enabled, health (the last 24 hours, all processes)."""
    manager: plugin_api.Plugins = request.app.state.plugins
    enabled = plugin_api.Plugins.enabled_in(request.state.site)
    health = await plugin_api.read_health(db)
    return {
        "plugins": [
            plugin_json(p, p.name in enabled, health.get(p.name, plugin_api.Health()))
            for p in sorted(manager.installed.values(), key=lambda p: p.name)
        ]
    }


@get("/events")
async def list_event_types(request: Request_) -> dict[str, Any]:
    """Every event type the core and the plugins emit, with its payload's fields."""
    return {"event_types": plugin_api.event_catalogue(request.app.state.plugins)}


api_router = Router(
    path="/api/v1/plugins",
    route_handlers=[list_plugins, list_event_types],
    guards=[require_admin],
    tags=["plugins"],
)
