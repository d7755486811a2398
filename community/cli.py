"""The ``community`` command. Errors are one line on stderr and exit code 2."""

from __future__ import annotations

import asyncio
import copy
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from alembic.util import CommandError as AlembicError
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from community import migrate
from community.accounts import services
from community.db import create_engine, create_sessionmaker
from community.errors import ServiceError
from community.settings import Settings, SettingsError, load_settings

T = TypeVar("T")
log = logging.getLogger("community.cli")


class CommandError(Exception):
    """A command refuses: printed as one line, exit code 2."""


def settings() -> Settings:
    return load_settings()


def run_db(work: Callable[[AsyncSession, Settings], Awaitable[T]]) -> T:
    """Run ``work`` with a database session on a migrated database."""
    config = settings()
    if not migrate.is_current(config.database_url):
        raise CommandError("the database is not migrated; run `community init` first")

    async def main() -> T:
        engine = create_engine(config.database_url)
        try:
            async with create_sessionmaker(engine)() as db:
                return await work(db, config)
        finally:
            await engine.dispose()

    return asyncio.run(main())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="community")
def cli() -> None:
    """community: a self-hosted, invite-only community forum."""


# ---------------------------------------------------------------------------------------------
# init, serve, db


@cli.command()
@click.option("--admin-username", help="Create the first admin with this username.")
@click.option(
    "--admin-password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the first admin's password from this file (else asked on a terminal).",
)
def init(admin_username: str | None, admin_password_file: Path | None) -> None:
    """Migrate the database and make sure there is an admin (running it twice changes nothing)."""
    config = settings()
    if admin_password_file and not admin_username:
        raise CommandError("--admin-password-file needs --admin-username")
    password = None
    if admin_username:
        if admin_password_file:
            try:
                password = admin_password_file.read_text().rstrip("\r\n")
            except OSError as exc:
                raise CommandError(f"cannot read {admin_password_file}: {exc.strerror}") from None
        elif sys.stdin.isatty():
            password = getpass.getpass(f"Password for {admin_username}: ")
            if getpass.getpass("Again: ") != password:
                raise CommandError("the passwords do not match")
        else:
            raise CommandError("give --admin-password-file, or run on a terminal to be asked")
    migrate.upgrade(config.database_url)

    async def work(db: AsyncSession, config: Settings) -> None:
        admin = await services.first_admin(db)
        if admin is not None:
            click.echo(f"Database ready. Admin: {admin.username}.")
            return
        if admin_username and password is not None:
            await services.create_member(
                db, username=admin_username, password=password, role="admin"
            )
            click.echo(f"Database ready. Created the admin {admin_username}.")
            return
        token = await services.setup_link(db)
        click.echo("Database ready. There is no admin yet: open this one-time link to create one:")
        click.echo(f"{config.base_url}/invite/{token}")

    run_db(work)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, workers: int) -> None:
    """Serve the forum over HTTP."""
    import uvicorn

    config = settings()
    if workers > 1 and config.redis_url is None:
        raise CommandError(
            "--workers above 1 needs COMMUNITY_REDIS_URL: processes must share sessions and limits"
        )
    if not migrate.is_current(config.database_url):
        raise CommandError("the database is not migrated; run `community init` first")
    click.echo(f"Serving {config.base_url} (listening on http://{host}:{port})")
    uvicorn.run(
        "community.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level="info",
        # Open live streams (SSE) never end by themselves: stop waiting for them after this.
        timeout_graceful_shutdown=10,
    )


@cli.command()
@click.option("--concurrency", default=10, show_default=True, help="Jobs run at once.")
def worker(concurrency: int) -> None:
    """Run background jobs from the queue (production: needs COMMUNITY_REDIS_URL; the
    embedded server runs its jobs itself)."""
    from community.app import create_app

    config = settings()
    if config.redis_url is None:
        raise CommandError(
            "workers need COMMUNITY_REDIS_URL; without Redis, `community serve` runs the jobs"
        )
    if not migrate.is_current(config.database_url):
        raise CommandError("the database is not migrated; run `community init` first")
    click.echo("Worker running; Ctrl+C stops it.")
    asyncio.run(_work(create_app(config), concurrency))


async def _work(app: Any, concurrency: int) -> None:
    """The app's sessionmaker, so that jobs' writes reach plugins and live pages as a
    request's do, and its plugins' health written as in a server."""
    from litestar.channels import ChannelsPlugin

    from community.jobs import run_worker
    from community.plugins import keep_health

    state = app.state
    async with app.plugins.get(ChannelsPlugin):
        stop = asyncio.Event()
        health = asyncio.create_task(keep_health(state.sessionmaker, state.plugins, stop))
        try:
            await run_worker(
                state.settings,
                state.jobs,
                namespace=state.namespace,
                concurrency=concurrency,
                sessionmaker=state.sessionmaker,
            )
        finally:
            stop.set()  # the last health records are written before it returns
            await health
            await state.engine.dispose()
            await state.plugin_engine.dispose()
            await state.redis.aclose()


@cli.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.argument("revision", default="heads")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: all heads)."""
    migrate.upgrade(settings().database_url, revision)


@db.command("downgrade")
@click.argument("revision", default="-1")
@click.option("--plugin", default=None, help="Downgrade this plugin's history, not the core's.")
def db_downgrade(revision: str, plugin: str | None) -> None:
    """Revert migrations down to REVISION (default: one step; "base" for all)."""
    try:
        migrate.downgrade(settings().database_url, revision, plugin=plugin)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


@db.command("current")
def db_current() -> None:
    """Show the database's revision."""
    click.echo(migrate.current(settings().database_url) or "(empty database)")


@db.command("check")
def db_check() -> None:
    """Fail when the models and the migrations disagree."""
    migrate.check(settings().database_url)
    click.echo("Models and migrations agree.")


# ---------------------------------------------------------------------------------------------
# demo


@cli.command()
@click.option(
    "--size",
    type=click.Choice(["small", "medium", "large"]),
    default="small",
    show_default=True,
    help="small: 50 members, 500 threads, 5,000 posts; medium: 1,000 / 10,000 / 100,000; "
    "large: 10,000 / 100,000 / 1,000,000.",
)
@click.option("--seed", default=1, show_default=True, help="The same seed gives the same data.")
@click.option(
    "--append", is_flag=True, help="Add to a database that already has threads (else refused)."
)
def demo(size: str, seed: int, append: bool) -> None:
    """Fill the database with a year of demo activity: members invited by members, threads,
    replies, reactions; enabled plugins fill their own tables too."""
    import time

    from community import demo as generator
    from community.forum.models import Thread
    from community.plugins import Plugins

    manager = Plugins()
    started = time.perf_counter()

    async def work(db: AsyncSession, config: Settings) -> generator.Summary:
        if not append and await db.scalar(select(func.count()).select_from(Thread)):
            raise CommandError(
                "the database already has threads: use an empty one, or give --append"
            )
        summary = await generator.populate(
            db, generator.SIZES[size], seed=seed, site_name=config.name, say=click.echo
        )
        site = await services.instance_settings(db, config.name)
        filled = await generator.populate_plugins(db, manager, site, summary, seed)
        if filled:
            click.echo(f"Plugins filled their tables: {', '.join(filled)}.")
        return summary

    summary = run_db(work)
    click.echo(
        f"Wrote {summary.members:,} members, {summary.invites:,} invites, "
        f"{summary.threads:,} threads, {summary.posts:,} posts and {summary.reactions:,} "
        f"reactions in {time.perf_counter() - started:.0f} s."
    )
    who = f"as {summary.admin} (an admin) or any member" if summary.admin else "as any member"
    click.echo(f"Sign in {who} with the password {generator.PASSWORD!r}.")


# ---------------------------------------------------------------------------------------------
# invite


@cli.group()
def invite() -> None:
    """Create, list and revoke invites."""


@invite.command("create")
@click.option("--uses", default=1, show_default=True, help="How many people may use it.")
@click.option("--expires", default="7d", show_default=True, help="7d, 12h, 30m or never.")
@click.option("--note", help="A note for admins.")
@click.option("--group", "groups", multiple=True, help="A group the invitee joins (repeatable).")
@click.option("--email", help="Only this email address may use it.")
@click.option("--domain", help="Only email addresses at this domain may use it.")
def invite_create(
    uses: int,
    expires: str,
    note: str | None,
    groups: tuple[str, ...],
    email: str | None,
    domain: str | None,
) -> None:
    """Create an invite and print its URL on its own line."""

    async def work(db: AsyncSession, config: Settings) -> str:
        site = await services.instance_settings(db, config.name)
        new = await services.create_invite(
            db,
            None,
            settings=site,
            max_uses=uses,
            expires_in=services.parse_expiry(expires),
            note=note,
            groups=list(groups),
            email=email,
            domain=domain,
        )
        return f"{config.base_url}/invite/{new.token}"

    click.echo(run_db(work))


@invite.command("list")
def invite_list() -> None:
    """List invites, newest first."""

    async def work(db: AsyncSession, config: Settings) -> list[str]:
        lines = [f"{'ID':>5}  {'STATE':8} {'USES':>9}  {'EXPIRES':16}  {'BY':16} NOTE"]
        for inv in await services.list_invites(db):
            expires = f"{inv.expires_at:%Y-%m-%d %H:%M}" if inv.expires_at else "never"
            by = inv.created_by.username if inv.created_by else "-"
            uses = f"{inv.uses}/{inv.max_uses}"
            lines.append(
                f"{inv.id:>5}  {inv.state():8} {uses:>9}  {expires:16}  {by:16} {inv.note or ''}"
            )
        return lines

    click.echo("\n".join(run_db(work)))


@invite.command("revoke")
@click.argument("invite_id", type=int)
def invite_revoke(invite_id: int) -> None:
    """Revoke an invite by its ID."""

    async def work(db: AsyncSession, _: Settings) -> None:
        await services.revoke_invite(db, await services.invite_by_id(db, invite_id))

    run_db(work)
    click.echo(f"Revoked invite {invite_id}.")


# ---------------------------------------------------------------------------------------------
# user, token


@cli.group()
def user() -> None:
    """List members, change roles, suspend."""


@user.command("list")
def user_list() -> None:
    """List members."""

    async def work(db: AsyncSession, _: Settings) -> list[str]:
        lines = [f"{'USERNAME':32} {'ROLE':10} {'STATUS':10} {'JOINED':10} INVITED BY"]
        for m in await services.search_members(db, limit=100_000):
            status = "pending" if m.is_pending else "suspended" if m.is_suspended() else "active"
            by = m.invited_by.username if m.invited_by else "-"
            lines.append(f"{m.username:32} {m.role:10} {status:10} {m.created_at:%Y-%m-%d} {by}")
        return lines

    click.echo("\n".join(run_db(work)))


@user.command("set-role")
@click.argument("name")
@click.argument("role")
def user_set_role(name: str, role: str) -> None:
    """Make NAME a member, moderator or admin."""

    async def work(db: AsyncSession, _: Settings) -> None:
        await services.set_role(db, await services.member_by_username(db, name), role)

    run_db(work)
    click.echo(f"{name} is now {role}.")


@user.command("suspend")
@click.argument("name")
@click.option("--until", help="YYYY-MM-DD or an ISO date-time (default: indefinitely).")
@click.option("--reason", help="Shown to the member when they try to sign in.")
def user_suspend(name: str, until: str | None, reason: str | None) -> None:
    """Suspend NAME: they cannot sign in, their sessions and tokens stop at once."""

    async def work(db: AsyncSession, _: Settings) -> None:
        when = services.parse_until(until) if until else None
        await services.suspend(db, await services.member_by_username(db, name), when, reason)

    run_db(work)
    click.echo(f"Suspended {name}" + (f" until {until}." if until else "."))


@user.command("unsuspend")
@click.argument("name")
def user_unsuspend(name: str) -> None:
    """Lift NAME's suspension."""

    async def work(db: AsyncSession, _: Settings) -> None:
        await services.unsuspend(db, await services.member_by_username(db, name))

    run_db(work)
    click.echo(f"{name} is no longer suspended.")


@cli.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="Command line", show_default=True)
def token_create(username: str, name: str) -> None:
    """Create an API token for USERNAME and print it on its own line."""

    async def work(db: AsyncSession, _: Settings) -> str:
        member = await services.member_by_username(db, username)
        return (await services.create_api_token(db, member, name))[1]

    click.echo(run_db(work))


def main(argv: list[str] | None = None, plugins: Any = None) -> Any:
    """Run the command line; ``plugins`` (default: the installed ones) add their commands."""
    try:
        root = with_plugin_commands(plugins)
        return root.main(args=argv, prog_name="community", standalone_mode=False)
    except (SettingsError, CommandError) as exc:
        _fail(str(exc))
    except ServiceError as exc:
        _fail(exc.detail)
    except click.exceptions.Abort:
        _fail("aborted")
    except click.ClickException as exc:
        _fail(exc.format_message())
    except (OSError, SQLAlchemyError, AlembicError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        _fail(f"{type(exc).__name__}: {first_line}")
    return None


def with_plugin_commands(plugins: Any = None) -> click.Group:
    """``cli`` plus a group ``community <plugin> ...`` for each loaded plugin's commands."""
    from community.plugins import Plugins

    manager = plugins if plugins is not None else Plugins()
    root = copy.copy(cli)
    root.commands = dict(cli.commands)
    for plugin in manager.loaded:
        commands = manager.first(plugin.name, "register_commands")
        if not commands:
            continue
        if plugin.name in root.commands:
            log.warning("plugins: %s's commands clash with `community %s`", *[plugin.name] * 2)
            continue
        group = click.Group(
            plugin.name,
            help=plugin.manifest.description if plugin.manifest else None,
            callback=_require_enabled(manager, plugin.name),
        )
        for command in commands:
            group.add_command(command)
        root.add_command(group)
    return root


def _require_enabled(manager: Any, name: str) -> Callable[..., None]:
    """A plugin's commands run only while it is enabled, with its settings readable."""

    @click.pass_context
    def check(context: click.Context) -> None:
        from community.plugins import Plugins, activated

        async def work(db: AsyncSession, config: Settings) -> dict[str, Any]:
            return await services.instance_settings(db, config.name)

        site = run_db(work)
        if name not in Plugins.enabled_in(site):
            raise CommandError(f"plugin {name} is disabled; run `community plugins enable {name}`")
        context.with_resource(activated(manager, site))

    return check


def _fail(message: str) -> None:
    click.echo(f"community: error: {message}", err=True)
    sys.exit(2)


# ---------------------------------------------------------------------------------------------
# plugins


@cli.group()
def plugins() -> None:
    """Installed plugins: list, enable, disable."""


@plugins.command("list")
def plugins_list() -> None:
    """Every installed plugin: name, version, enabled, health, capabilities."""
    from community.plugins import Health, Plugins, read_health

    manager = Plugins()

    async def work(db: AsyncSession, config: Settings) -> tuple[frozenset[str], dict[str, Health]]:
        site = await services.instance_settings(db, config.name)
        return Plugins.enabled_in(site), await read_health(db)

    enabled, health = run_db(work)
    if not manager.installed:
        click.echo("No plugins installed.")
    for plugin in sorted(manager.installed.values(), key=lambda p: p.name):
        if not plugin.loaded:
            click.echo(f"{plugin.name}\trefused\t{plugin.refused}")
            continue
        assert plugin.manifest is not None
        state = "enabled" if plugin.name in enabled else "disabled"
        capabilities = ",".join(sorted(plugin.manifest.capabilities)) or "-"
        click.echo(
            f"{plugin.name}\t{plugin.manifest.version}\t{state}\t"
            f"{health.get(plugin.name, Health()).status}\t{capabilities}"
        )


def _set_enabled(name: str, enabled: bool) -> None:
    from community.plugins import Plugins, set_enabled

    manager = Plugins()

    async def work(db: AsyncSession, _: Settings) -> None:
        await set_enabled(db, manager, name, enabled)

    run_db(work)
    click.echo(f"{'Enabled' if enabled else 'Disabled'} {name}.")


@plugins.command("enable")
@click.argument("name")
def plugins_enable(name: str) -> None:
    """Enable NAME in every running process (no restart needed)."""
    _set_enabled(name, True)


@plugins.command("disable")
@click.argument("name")
def plugins_disable(name: str) -> None:
    """Disable NAME: its routes answer 404, its hooks and slots stop, at once."""
    _set_enabled(name, False)


@plugins.command("new")
@click.argument("name")
@click.option(
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to write the plugin's folder, community-NAME.",
)
def plugins_new(name: str, directory: Path) -> None:
    """Write a working plugin NAME to start from: a page, a setting, a slot, a table, an
    event handler, a scheduled job and their tests."""
    from community import scaffold

    target = scaffold.write(name, directory)
    click.echo(f"Wrote {target}. Next, in the server's virtualenv:")
    click.echo(f'  pip install -e "{target}[dev]"')
    click.echo("  community db upgrade")
    click.echo(f"  community plugins enable {name}   # after restarting community serve once")
    click.echo(f"  cd {target} && pytest")
