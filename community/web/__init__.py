"""The web layer's shared pieces: templates, rendering, error pages, security headers."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from litestar import Request, Response
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.response import Redirect, Template
from litestar.template import TemplateConfig
from litestar.types import Message, Scope
from markupsafe import Markup

from community import plugins as plugins_api
from community.errors import ServiceError
from community.plugins import NavItem, Plugins
from community.plugins import active as active_plugins
from community.resources import resource_dir
from community.web.slots import Slot

log = logging.getLogger("community")

STATIC_DIR = Path(__file__).parent / "static"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


SECRET_PATH = re.compile(r"/(invite|feeds)/[^\s?/\"]+")


def redact(text: str) -> str:
    """``text`` with invite and feed tokens in paths replaced: logs must not hold secrets."""
    return SECRET_PATH.sub(r"/\1/[redacted]", text)


def template_config(plugins: Plugins | None = None) -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja with the core's templates, then each plugin's (``<plugin>/...``), and the
    ``slot(name, **context)``, ``plugin_nav()`` and ``feature_enabled(key)`` globals for
    plugin HTML, links and feature flags."""
    folders = [resource_dir("templates")]
    if plugins is not None:
        folders += [
            folder
            for plugin in plugins.loaded
            if (folder := plugins.first(plugin.name, "register_templates"))
        ]
    environment = Environment(
        loader=FileSystemLoader(folders),
        autoescape=select_autoescape(default=True, default_for_string=True),
        enable_async=False,
    )
    environment.globals["slot"] = render_slot
    environment.globals["plugin_nav"] = plugin_nav
    environment.globals["feature_enabled"] = feature_enabled
    environment.filters["ago"] = ago
    environment.filters["iso"] = lambda value: value.isoformat() if value else ""
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


@pass_context
def feature_enabled(context: Any, key: str) -> bool:
    """``{% if feature_enabled("new-editor") %}``: the flag for the member viewing the page."""
    return plugins_api.feature_enabled(context.get("member"), key)


def render_slot(name: str, **context: Any) -> Markup:
    """The HTML the enabled plugins add to the slot called ``name``."""
    current = active_plugins()
    if current is None or not current.enabled:
        return Markup("")
    return current.plugins.slot(Slot[name], current.enabled, context)


def plugin_nav(admin: bool = False) -> list[NavItem]:
    """Links the enabled plugins add to the main (or the admin) navigation."""
    current = active_plugins()
    if current is None or not current.enabled:
        return []
    hook = "register_admin_pages" if admin else "register_nav_items"
    return [
        item
        for plugin in current.plugins.loaded
        if plugin.name in current.enabled
        for item in current.plugins.first(plugin.name, hook) or []
        if isinstance(item, NavItem)
    ]


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """A short relative time: "just now", "5 min ago", "3 h ago", "2 d ago", then the date."""
    if value is None:
        return ""
    seconds = ((now or datetime.now(UTC)) - value).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    if seconds < 86400 * 30:
        return f"{int(seconds // 86400)} d ago"
    return value.strftime("%d %b %Y")


def render(
    request: Request[Any, Any, Any], name: str, status_code: int = 200, **context: Any
) -> Template:
    """A page with the base context every template may use."""
    site = request.scope.get("state", {}).get("site") or {"name": request.app.state.settings.name}
    return Template(
        name,
        context={"member": request.scope.get("user"), "site": site, **context},
        status_code=status_code,
    )


def wants_json(request: Request[Any, Any, Any]) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/healthz"


async def add_security_headers(message: Message, scope: Scope) -> None:
    if message["type"] == "http.response.start":
        message.setdefault("headers", [])
        message["headers"] = [*message["headers"], *SECURITY_HEADERS]  # type: ignore[typeddict-item]


HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
}


def handle_service_error(request: Request[Any, Any, Any], exc: ServiceError) -> Response[Any]:
    headers = {}
    if "retry_after" in exc.extra:
        headers["Retry-After"] = str(exc.extra["retry_after"])
    if wants_json(request):
        return Response(exc.to_json(), status_code=exc.status, headers=headers)
    return _error_page(request, exc.status, exc.detail, headers)


def handle_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    detail = exc.detail
    if isinstance(exc, NotAuthorizedException) and not wants_json(request):
        target = "/signin"
        if request.method == "GET" and request.url.path not in ("/", "/signin"):
            target += "?next=" + request.url.path
        if request.headers.get("hx-request"):
            return Response(b"", status_code=204, headers={"HX-Redirect": target})
        return Redirect(target)
    if status == 400 and exc.extra:
        detail = f"{detail}: {exc.extra}" if isinstance(exc.extra, str) else detail
    if wants_json(request):
        body = {"error": HTTP_CODES.get(status, "error"), "detail": detail}
        if isinstance(exc.extra, list) and exc.extra:
            body["problems"] = exc.extra
        return Response(body, status_code=status, headers=exc.headers or {})
    return _error_page(request, status, detail, exc.headers or {})


def handle_internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception(
        "unhandled error on %s %s", request.method, redact(request.url.path), exc_info=exc
    )
    detail = "Something went wrong on our side. It has been logged."
    if wants_json(request):
        return Response({"error": "internal", "detail": detail}, status_code=500)
    return _error_page(request, 500, detail, {})


def _error_page(
    request: Request[Any, Any, Any], status: int, detail: str, headers: dict[str, str]
) -> Response[Any]:
    page = render(request, "error.html", status_code=status, status=status, detail=detail)
    page.headers.update(headers)
    return page
