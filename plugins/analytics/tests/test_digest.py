"""The weekly digest: the tiles of the last full week, stored once per week, emailed to the
admins who have an address when email is configured, and listed for admins."""

from __future__ import annotations

import html
from datetime import date, timedelta
from typing import Any

import pytest
from community_analytics import digest
from community_analytics.catalogue import REPORTS
from community_analytics.models import Digest
from sqlalchemy import select, update

from community import mail
from community.accounts.models import Member
from community.jobs import DONE
from community.testing import api_token, make_member, run_job, sign_in


async def give_email(app: Any, username: str, email: str) -> None:
    async with app.state.sessionmaker() as db:
        await db.execute(update(Member).where(Member.username == username).values(email=email))
        await db.commit()


async def stored(app: Any) -> list[Digest]:
    async with app.state.sessionmaker() as db:
        return list(await db.scalars(select(Digest).order_by(Digest.week)))


async def make_digest(app: Any) -> None:
    assert (await run_job(app, "analytics.digest")).state == DONE


@pytest.mark.parametrize(
    ("today", "monday"),
    [
        (date(2026, 11, 30), date(2026, 11, 23)),  # a Monday: the week that just ended
        (date(2026, 12, 1), date(2026, 11, 23)),
        (date(2026, 12, 6), date(2026, 11, 23)),  # a Sunday: its week is not over
        (date(2026, 12, 7), date(2026, 11, 30)),
        (date(2027, 1, 3), date(2026, 12, 21)),  # across the new year
    ],
)
def test_the_digest_covers_the_last_full_week(today: date, monday: date) -> None:
    week = digest.last_week(today)
    assert (week.start, week.end) == (monday, monday + timedelta(days=6))
    assert week.start.weekday() == 0 and week.end < today


async def test_the_digest_is_made_once_a_week(
    app: Any, client: Any, admin: Any, forum: Any
) -> None:
    data = await forum(app)
    await make_digest(app)
    await make_digest(app)
    (made,) = await stored(app)
    week = digest.last_week(data.now.date())
    assert made.week == week.start
    assert made.sent_at is None  # email is not configured
    assert [t["name"] for t in made.tiles] == list(REPORTS)
    headers = await api_token(app, "admin")
    params = {"start": week.start.isoformat(), "end": week.end.isoformat()}
    for found in made.tiles:
        url = f"/api/v1/analytics/reports/{found['name']}"
        got = (await client.get(url, params=params, headers=headers)).json()
        wanted = {k: got[k] for k in digest.TILE}
        assert found == wanted


async def test_admins_get_it_by_email_once(
    app: Any, admin: Any, member: Any, forum: Any, outbox: list[Any]
) -> None:
    await forum(app)
    await make_member(app, "chief", "admin")
    await make_member(app, "silent", "admin")  # no address: left out
    await give_email(app, "admin", "admin@example.test")
    await give_email(app, "chief", "chief@example.test")
    await give_email(app, "member", "member@example.test")
    await make_digest(app)
    (message,) = outbox
    assert message["X-Envelope-To"] == "admin@example.test, chief@example.test"
    (made,) = await stored(app)
    assert message["Subject"] == f"Testers analytics: week of {made.week:%d %B %Y}"
    body = message.get_content()
    for found in made.tiles:
        assert f"{found['title']}: {digest.figure(found['total'], found['unit'])}" in body
        assert found["summary"] in body
    assert made.sent_at is not None
    await make_digest(app)
    assert len(outbox) == 1 and len(await stored(app)) == 1


async def test_a_digest_not_sent_goes_when_email_works(
    app: Any, admin: Any, forum: Any, outbox: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    await forum(app)
    await give_email(app, "admin", "admin@example.test")

    async def refused(to: list[str], subject: str, text: str) -> None:
        raise mail.MailError("550 no")

    with monkeypatch.context() as patched:
        patched.setattr(mail, "send", refused)
        await make_digest(app)  # the job succeeds: the digest is kept, unsent
    (made,) = await stored(app)
    assert made.sent_at is None and not outbox
    await make_digest(app)
    (made,) = await stored(app)
    assert made.sent_at is not None and len(outbox) == 1


async def test_admins_read_the_digests(app: Any, client: Any, admin: Any, forum: Any) -> None:
    await forum(app)
    await sign_in(client, "admin")
    empty = await client.get("/p/analytics/digests")
    assert "No digest yet" in empty.text
    await make_digest(app)
    (made,) = await stored(app)
    week = made.week.isoformat()
    listed = await client.get("/p/analytics/digests")
    assert f'href="/p/analytics/digests/{week}"' in listed.text
    assert "not sent" in listed.text
    page = await client.get(f"/p/analytics/digests/{week}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    end = (made.week + timedelta(days=6)).isoformat()
    for found in made.tiles:
        assert f'id="tile-{found["name"]}"' in page.text
        assert found["summary"] in text
        assert f"/p/analytics/reports/{found['name']}?start={week}&end={end}" in text
    assert (await client.get("/p/analytics/digests/2020-01-06")).status_code == 404
    assert (await client.get("/p/analytics/digests/someday")).status_code == 404


async def test_members_may_not_read_them(app: Any, client: Any, admin: Any, member: Any) -> None:
    await make_digest(app)
    (made,) = await stored(app)
    await sign_in(client, "member")
    assert (await client.get("/p/analytics/digests")).status_code == 403
    assert (await client.get(f"/p/analytics/digests/{made.week.isoformat()}")).status_code == 403
