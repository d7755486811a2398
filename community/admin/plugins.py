"""The admin page for plugins: what is installed, what each may do, enable, disable, settings,
and health."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins as plugin_api
from community.accounts.auth import require_admin
from community.accounts.routes import Form
from community.errors import ServiceError
from community.web import render

Request_ = Request[Any, Any, Any]


def _page(request: Request_, status_code: int = 200, **context: Any) -> Template:
    manager: plugin_api.Plugins = request.app.state.plugins
    site = request.state.site
    enabled = plugin_api.Plugins.enabled_in(site)
    rows = [
        {
            "plugin": plugin,
            "enabled": plugin.name in enabled,
            "fields": plugin_api.settings_fields(plugin, site),
            "errors_today": plugin.health.errors_today(),
            "slow_today": plugin.health.slow_today(),
        }
        for plugin in sorted(manager.installed.values(), key=lambda p: p.name)
    ]
    context.setdefault("field_errors", {})
    return render(
        request, "admin/plugins.html", status_code=status_code, rows=rows, tab="plugins", **context
    )


@get("/")
async def plugins_page(
    request: Request_,
    enabled: str | None = None,
    disabled: str | None = None,
    saved: str | None = None,
) -> Template:
    notice = (
        f"Enabled {enabled}."
        if enabled
        else f"Disabled {disabled}."
        if disabled
        else f"Saved the settings of {saved}."
        if saved
        else None
    )
    return _page(request, notice=notice)


@post("/{name:str}/enable", status_code=200)
async def enable(request: Request_, db: AsyncSession, name: str) -> Template | Redirect:
    try:
        await plugin_api.set_enabled(db, request.app.state.plugins, name, True)
    except ServiceError as error:
        return _page(request, error.status, error=error.detail)
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
        return _page(
            request,
            error.status,
            error=error.detail,
            field_errors={name: error.extra.get("errors", {})},
            submitted={name: data},
        )
    return Redirect(f"/admin/plugins?saved={name}#plugin-{name}", status_code=303)


router = Router(
    path="/admin/plugins",
    route_handlers=[plugins_page, enable, disable, save_settings],
    guards=[require_admin],
    include_in_schema=False,
)
