"""Quiet hours: a contract sends only inside its window of each recipient's local time (the zone from
the number); outside it the recipient waits, and is never failed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from models import Contract, Recipient, RecipientStatus
from services.timezones import SendWindow, _several, zone_of
from tests.conftest import wait_until
from tests.helpers import new_account

MOSCOW = "74951234567"  # a Moscow landline
VLADIVOSTOK = "74232123456"  # seven hours ahead of Moscow


def test_a_number_gets_the_zone_its_prefix_places_it_in() -> None:
    assert zone_of(MOSCOW) == "Europe/Moscow"
    assert zone_of(VLADIVOSTOK) == "Asia/Vladivostok"
    assert zone_of("12125551234") == "America/New_York"
    assert zone_of("77012345678") == "Asia/Aqtobe"


def test_a_number_in_several_zones_gets_its_countrys_home_zone_or_the_middle_one() -> None:
    assert zone_of("79161234567") == "Europe/Moscow", "a Russian mobile: 16 zones, Moscow's by the rule"
    assert zone_of("61412345678") == "Australia/Sydney"
    assert _several(("Asia/Vladivostok", "Europe/Moscow", "Asia/Omsk"), ()) == "Asia/Omsk"


def test_the_window_holds_in_local_time_and_may_run_past_midnight() -> None:
    moscow = ZoneInfo("Europe/Moscow")
    day = SendWindow(time(9), time(21), frozenset(range(1, 8)))
    assert day.is_open(datetime(2026, 11, 27, 9, 0, tzinfo=moscow))
    assert not day.is_open(datetime(2026, 11, 27, 21, 0, tzinfo=moscow))
    fridays = SendWindow(time(22), time(6), frozenset({5}))  # Friday 22:00 to Saturday 06:00
    assert fridays.is_open(datetime(2026, 11, 27, 23, 0, tzinfo=moscow))  # Friday night
    assert fridays.is_open(datetime(2026, 11, 28, 5, 59, tzinfo=moscow))  # Saturday small hours
    assert not fridays.is_open(datetime(2026, 11, 29, 2, 0, tzinfo=moscow))  # Sunday small hours
    weekdays = SendWindow(time(9), time(21), frozenset(range(1, 6)))
    saturday_noon = datetime(2026, 11, 28, 12, 0, tzinfo=moscow)
    assert weekdays.next_open(["Europe/Moscow"], saturday_noon) == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


def window_open_in_moscow_only(now: datetime) -> dict:
    """Two hours around Moscow's local time now: shut in Vladivostok, seven hours ahead."""
    local = now.astimezone(ZoneInfo("Europe/Moscow"))
    start, end = local - timedelta(hours=1), local + timedelta(hours=1)
    return {"start": f"{start:%H:%M}", "end": f"{end:%H:%M}"}


async def test_recipients_outside_their_window_wait_and_are_never_failed(client, processes) -> None:
    processes("worker")
    account = await new_account(client, useLimits=False)
    window = window_open_in_moscow_only(datetime.now(UTC))
    rows = [{"phoneNumber": MOSCOW, "message": "day"}, {"phoneNumber": VLADIVOSTOK, "message": "night"}]
    r = await client.post(
        "/api/contracts", json={"accountId": account, "recipients": rows, "sendWindow": window}
    )
    assert r.status_code == 201, r.text
    contract = r.json()["id"]
    shown = (await client.get(f"/api/contracts/{contract}")).json()["sendWindow"]
    assert shown == {**window, "days": [1, 2, 3, 4, 5, 6, 7]}
    assert (await client.post(f"/api/contracts/{contract}/start")).status_code == 200

    async def moscow_sent() -> bool:
        return await Recipient.filter(contract_id=contract, status=RecipientStatus.SENT).exists()

    await wait_until(moscow_sent, what="the recipient whose window is open")
    await asyncio.sleep(1.5)  # more passes of the worker and reconcile
    statuses = dict(await Recipient.filter(contract_id=contract).values_list("phone_number", "status"))
    assert statuses == {MOSCOW: RecipientStatus.SENT, VLADIVOSTOK: RecipientStatus.QUEUED}
    assert (await Contract.get(id=contract)).status == "IN_PROGRESS"

    only_night = await client.post(
        "/api/contracts",
        json={"accountId": account, "recipients": rows[1:], "sendWindow": window},
    )
    night = only_night.json()["id"]
    await client.post(f"/api/contracts/{night}/start")
    reason = (await client.get(f"/api/contracts/{night}")).json()["waitingReason"]
    assert reason.startswith(f"quiet hours: outside {window['start']}–{window['end']}, every day")


async def test_a_bad_window_is_refused_naming_the_field(client) -> None:
    account = await new_account(client)
    body = {"accountId": account, "recipients": [{"phoneNumber": MOSCOW, "message": "hi"}]}
    r = await client.post("/api/contracts", json={**body, "sendWindow": {"start": "25:00", "end": "21:00"}})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "sendWindow.start"
    r = await client.post(
        "/api/contracts", json={**body, "sendWindow": {"start": "09:00", "end": "21:00", "days": [0]}}
    )
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "sendWindow.days[0]"


def test_a_window_of_the_whole_day_is_said_so() -> None:
    """00:00 to 00:00 is the whole day: it read "00:00–00:00", as if it never opened."""
    assert SendWindow.of({"start": "00:00", "end": "00:00"}).describe() == "around the clock, every day"
    weekdays = SendWindow.of({"start": "00:00", "end": "00:00", "days": [1, 2, 3, 4, 5]}).describe()
    assert weekdays == "around the clock, days 1,2,3,4,5"
    assert SendWindow.of({"start": "09:00", "end": "21:00"}).describe() == "09:00–21:00, every day"
