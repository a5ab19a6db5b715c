"""Signing in as an attacker would try it: guessing passwords, racing for a fresh install, planting a
session cookie, and sending the browser elsewhere after sign-in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from nicegui.testing import User as SimulatedUser

from models import User, WebSession
from models.user import Installation
from services import signin, team, users
from services.errors import Conflict, InvalidInput, TooManyAttempts, Unauthorized
from services.throttle import Throttle
from tests.conftest import API_KEY
from ui.login import safe_next

pytestmark = pytest.mark.usefixtures("fresh_throttle")


def test_the_throttle_lets_a_few_failures_pass_then_doubles_the_wait_per_key() -> None:
    throttle = Throttle(free=3, base_s=2, most_s=60)
    keys = ["address:10.0.0.1", "user:anna"]
    for _ in range(3):
        assert throttle.wait_s(keys, now=0) == 0
        throttle.failed(keys, now=0)
    assert throttle.wait_s(keys, now=0) == 0  # three failures are free
    throttle.failed(keys, now=0)
    assert throttle.wait_s(keys, now=0) == 2
    assert throttle.wait_s(["user:anna"], now=1) == 1
    throttle.failed(keys, now=2)
    assert throttle.wait_s(keys, now=2) == 4
    for _ in range(10):
        throttle.failed(keys, now=2)
    assert throttle.wait_s(keys, now=2) == 60  # never more than most_s
    assert throttle.wait_s(["address:10.0.0.2", "user:boris"], now=2) == 0  # other keys are not slowed
    throttle.forget("user:anna")
    assert throttle.wait_s(["user:anna"], now=2) == 0


def test_the_throttle_forgets_the_oldest_keys_past_its_size_but_never_a_blocked_one() -> None:
    throttle = Throttle(free=1, keys=100)
    throttle.failed(["user:anna"], now=0)
    throttle.failed(["user:anna"], now=0)  # blocked
    for i in range(1000):
        throttle.failed([f"address:{i}"], now=0)
    throttle.failed(["address:999"], now=0)
    assert len(throttle._records) <= 101
    assert throttle.wait_s(["user:anna"], now=0) > 0  # a flood of new keys does not free it
    assert throttle.wait_s(["address:999"], now=0) > 0
    throttle.failed(["address:0"], now=0)  # forgotten: its first failure again, free
    assert throttle.wait_s(["address:0"], now=0) == 0


async def test_guesses_sent_in_parallel_are_throttled_too(db) -> None:
    await users.create_first_user("anna", "correct horse")
    results = await asyncio.gather(
        *(signin.with_password("anna", f"guess {i}", "10.0.0.1") for i in range(50)), return_exceptions=True
    )
    checked = [r for r in results if isinstance(r, Unauthorized)]
    assert len(checked) <= 4  # three free failures, and the one that starts the delays
    assert all(isinstance(r, Unauthorized | TooManyAttempts) for r in results)


async def test_an_ipv6_client_is_throttled_by_its_slash_64(db) -> None:
    await users.create_first_user("anna", "correct horse")
    for i in range(4):
        with pytest.raises(Unauthorized):
            await signin.with_password(f"user{i}", "nope", f"2001:db8:1:2::{i + 1}")
    with pytest.raises(TooManyAttempts):
        await signin.with_password("anna", "correct horse", "2001:db8:1:2:ffff::9")
    assert await signin.with_password("anna", "correct horse", "2001:db8:1:3::1")  # another /64


async def test_wrong_passwords_are_slowed_per_address_and_per_username_and_logged_without_them(
    db, caplog: pytest.LogCaptureFixture
) -> None:
    await users.create_first_user("anna", "correct horse")
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        with pytest.raises(Unauthorized):
            await signin.with_password("anna", "wrong horse battery", "10.0.0.1")
    with pytest.raises(Unauthorized):  # the fourth failure starts the delays
        await signin.with_password("anna", "wrong horse battery", "10.0.0.1")
    with pytest.raises(TooManyAttempts) as refused:  # even the right password waits: no oracle
        await signin.with_password("anna", "correct horse", "10.0.0.1")
    assert "try again in 2 s" in refused.value.message
    with pytest.raises(TooManyAttempts):  # and the address for other usernames
        await signin.with_password("boris", "whatever", "10.0.0.1")
    assert "failed sign-in with user 'anna' from 10.0.0.1" in caplog.text
    assert "wrong horse battery" not in caplog.text


async def test_guessing_a_username_from_many_addresses_stays_slow_but_never_locks_its_owner_out(db) -> None:
    """One wrong password per block period from a new address kept the username blocked for
    everyone, its owner too. Now the owner, from an address that has not failed at it, is let
    through, and guessing from many addresses is held to one attempt a minute."""
    await users.create_first_user("anna", "correct horse")
    attackers = [f"10.6.0.{i}" for i in range(1, 5)]
    for address in attackers:  # failures from A, B, C, D start the username's delays
        with pytest.raises(Unauthorized):
            await signin.with_password("anna", "a guess", address)
    with pytest.raises(TooManyAttempts):  # A has failed at anna: it waits for the username too
        await signin.with_password("anna", "correct horse", attackers[0])
    assert await signin.with_password("anna", "correct horse", "10.1.1.1"), "the owner, elsewhere"

    fresh = [f"10.7.0.{i}" for i in range(1, 51)]  # the attackers again, each from a new address
    outcomes = [await _outcome(signin.with_password("anna", "a guess", address)) for address in fresh]
    assert outcomes[:4] == ["checked"] * 4  # four failures start the username's delays again
    assert outcomes[4:] == ["checked"] + ["refused"] * 45, "then one a minute, however many addresses"
    with pytest.raises(TooManyAttempts):  # an untried address waits for that minute, the owner's too
        await signin.with_password("anna", "correct horse", "10.1.1.2")
    signin.untried = Throttle(free=0, base_s=0.2, most_s=0.2)  # as if that minute had passed
    await asyncio.sleep(0.3)
    assert await signin.with_password("anna", "correct horse", "10.1.1.2")


async def test_the_owners_own_browser_signs_in_however_many_addresses_guess(user: SimulatedUser, db) -> None:
    """A guess a minute, each from a new address, took the one attempt a minute that addresses new to
    a blocked username get, so the owner stayed out. The browser the owner signed in with before
    carries a mark of it (a cookie only the server can make) and is not held back by guesses from
    elsewhere."""
    await users.create_first_user("anna", "correct horse")
    await _signed_in(user, "/")
    assert (
        await user.http_client.post("/logout", headers={"Sec-Fetch-Site": "same-origin"})
    ).status_code == 303
    guesses = [await _outcome(signin.with_password("anna", "a guess", f"10.9.0.{i}")) for i in range(1, 8)]
    assert guesses[-1] == "refused", guesses
    with pytest.raises(TooManyAttempts):  # another browser, new to anna: the minute is the guessers'
        await signin.with_password("anna", "correct horse", "10.1.1.5")
    with pytest.raises(TooManyAttempts):  # nor does someone else's mark help
        await signin.with_password("anna", "correct horse", "10.1.1.5", signin.browser_mark("mallory"))
    await _signed_in(user, "/")  # the owner's own browser: signed in
    with pytest.raises(Unauthorized):  # the mark spares no guess its holder makes: counted as ever
        await signin.with_password("anna", "a guess", "10.1.1.6", signin.browser_mark("anna"))


async def _outcome(attempt: Awaitable[str]) -> str:
    try:
        await attempt
    except Unauthorized:
        return "checked"
    except TooManyAttempts:
        return "refused"
    return "signed in"


async def test_a_sign_in_that_succeeds_leaves_no_wait_behind_it(db) -> None:
    """Past the free failures, the failure counted up front for each attempt blocked the address
    again even when the attempt then succeeded: every sign-in from an office behind one address
    made the next one wait, longer each time."""
    await users.create_first_user("anna", "correct horse")
    signin.throttle = Throttle(free=1, base_s=0.2, most_s=0.2)
    for name in ("bob", "carl"):  # typos from the office's address
        with pytest.raises(Unauthorized):
            await signin.with_password(name, "correct horse", "10.2.0.1")
        await asyncio.sleep(0.25)
    for _ in range(3):
        assert await signin.with_password("anna", "correct horse", "10.2.0.1"), "no wait after a success"
    with pytest.raises(Unauthorized):  # the failures before still count: the next one is held back
        await signin.with_password("dora", "correct horse", "10.2.0.1")
    with pytest.raises(TooManyAttempts):
        await signin.with_password("anna", "correct horse", "10.2.0.1")


async def test_a_sign_in_after_the_wait_succeeds_and_clears_the_username(db) -> None:
    await users.create_first_user("anna", "correct horse")
    signin.throttle = Throttle(free=0, base_s=1)
    with pytest.raises(Unauthorized):
        await signin.with_password("anna", "nope", "10.0.0.1")
    with pytest.raises(TooManyAttempts):
        await signin.with_password("anna", "correct horse", "10.0.0.1")
    await asyncio.sleep(1)
    ticket = await signin.with_password("anna", "correct horse", "10.0.0.1")
    token = await signin.redeem(ticket)
    assert await signin.session_user(token) == "anna"
    assert await signin.redeem(ticket) is None  # once only
    assert signin.throttle.wait_s(["user:anna"]) == 0


async def test_changing_the_password_needs_the_current_one_and_ends_the_users_other_sessions(db) -> None:
    await users.create_first_user("anna", "correct horse")
    here, elsewhere = [
        await signin.redeem(await signin.with_password("anna", "correct horse", ip)) for ip in "12"
    ]
    with pytest.raises(Unauthorized, match="current password is wrong"):
        await signin.change_password("anna", "wrong horse", "battery staple", here, "10.0.0.1")
    with pytest.raises(InvalidInput) as short:
        await signin.change_password("anna", "correct horse", "short", here, "10.0.0.1")
    assert [p.field for p in short.value.problems] == ["newPassword"]
    with pytest.raises(Conflict, match="API key"):
        await signin.change_password(users.KEY_USER, "", "battery staple", here, "10.0.0.1")

    await signin.change_password("anna", "correct horse", "battery staple", here, "10.0.0.1")
    assert await users.authenticate("anna", "battery staple")
    assert not await users.authenticate("anna", "correct horse")
    assert await signin.session_user(here) == "anna", "this browser stays signed in"
    assert await signin.session_user(elsewhere) is None, "any other is signed out"


async def test_password_hashing_leaves_the_event_loop_free(db) -> None:
    """argon2 takes tens of milliseconds per check: on the loop, nothing else would run meanwhile."""
    await users.create_first_user("anna", "correct horse")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    running = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    before = ticks
    assert await users.authenticate("anna", "correct horse")
    running.cancel()
    assert ticks - before >= 5


async def test_a_fresh_install_gets_exactly_one_first_user_however_many_race_for_it(db) -> None:
    results = await asyncio.gather(
        *(users.create_first_user(f"user{i}", "correct horse") for i in range(8)), return_exceptions=True
    )
    created = [r for r in results if isinstance(r, User)]
    assert len(created) == 1
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, User))
    assert await User.all().count() == 1
    assert (await Installation.get(id=1)).claimed_by == created[0].username


async def test_claiming_a_fresh_install_needs_the_setup_code_or_the_api_key(db) -> None:
    with pytest.raises(Unauthorized):
        await signin.claim("0000-0000-0000", "mallory", "correct horse", "10.6.6.6")
    assert await users.first_run()
    code = users.setup_code()
    assert len(code) == 14 and code != API_KEY
    ticket = await signin.claim(code.upper(), "anna", "correct horse", "10.0.0.1")
    assert await signin.session_user(await signin.redeem(ticket)) == "anna"
    with pytest.raises(Conflict):  # once claimed, the code is spent
        await signin.claim(API_KEY, "boris", "correct horse", "10.0.0.1")


@pytest.mark.parametrize(
    "name", ["ad\u202emin", "ad\u200bmin", "\u0430dmin", "admin\x00", "ADMIN (api key)", "\u3000"]
)
async def test_the_first_user_is_named_by_the_same_rule_as_every_user(db, name: str) -> None:
    """No invisible or control character, one alphabet, not the API key's name in other clothes."""
    with pytest.raises(InvalidInput) as refused:
        await users.create_first_user(name, "correct horse")
    assert [p.field for p in refused.value.problems] == ["username"]
    assert await users.first_run()


def test_only_paths_of_this_site_are_followed_after_sign_in() -> None:
    assert safe_next("/contracts/contract_1?tab=2") == "/contracts/contract_1?tab=2"
    assert safe_next("/accounts") == "/accounts"
    assert safe_next("/audiences/a%20b#top") == "/audiences/a%20b#top"
    for hostile in (
        "///evil.example/x",
        "////evil.example/x",
        "/\\evil.example/",
        "/%5Cevil.example/",
        "/%5cevil.example/",
        "//evil.example/",
        "/%2F/evil.example/",
        "/%2f%2fevil.example/",
        "/\t/evil.example/",
        "/\n/evil.example",
        "/%09/evil.example",
        "/\r\n//evil.example",
        "/\x7f/evil.example",
        "https://evil.example/",
        "http:evil.example",
        "javascript:alert(1)",
        "evil.example",
        " //evil.example",
        "",
        None,
    ):
        assert safe_next(hostile) == "/", hostile


async def _signed_in(user: SimulatedUser, next_path: str) -> None:
    await user.open(f"/login?next={next_path}")
    user.find("Username").type("anna")
    user.find("Password").type("correct horse")
    user.find("Sign in").click()
    await user.should_see(marker="preferences", retries=50)


async def test_sign_in_never_redirects_off_site(user: SimulatedUser, db) -> None:
    await users.create_first_user("anna", "correct horse")
    await _signed_in(user, "///evil.example/x")
    assert user.back_history[-1] == "/", "the overview, not another site"
    for hostile in ("///evil.example/x", "////evil.example/x", "/%5Cevil.example/", "/\t/evil.example"):
        ticket = await signin.with_password("anna", "correct horse", "10.0.0.1")
        r = await user.http_client.post(
            "/login/finish", data={"ticket": ticket, "next": hostile}, headers={"Origin": "http://test"}
        )
        assert r.status_code == 303 and r.headers["location"] == "/", hostile
    r = await user.http_client.post("/login/finish", data={"ticket": "spent", "next": "/x"})
    assert r.headers["location"] == "/login"  # an unknown ticket signs nobody in


async def test_signing_in_and_out_are_refused_from_another_site(user: SimulatedUser, db) -> None:
    """Login CSRF (another site signs the victim's browser in as the attacker, whose ticket it holds)
    and a sign-out link elsewhere: a plain GET changes nothing, nor does a POST from another site."""
    await users.create_first_user("anna", "correct horse")
    await team.join(await team.invite("anna", users.OPERATOR), "mallory", "battery staple")
    await _signed_in(user, "/accounts")
    ticket = await signin.with_password("mallory", "battery staple", "10.6.6.6")  # the attacker's own
    for method, path, headers in (
        ("GET", f"/login/finish?ticket={ticket}&next=/", {}),
        ("POST", "/login/finish", {"Origin": "https://evil.example"}),
        ("POST", "/login/finish", {"Sec-Fetch-Site": "cross-site", "Origin": "http://test"}),
        ("POST", "/login/finish", {"Sec-Fetch-Site": "same-site"}),
        ("POST", "/login/finish", {"Origin": "null"}),
        ("GET", "/logout", {}),
        ("POST", "/logout", {"Origin": "https://evil.example"}),
        ("POST", "/logout", {"Sec-Fetch-Site": "cross-site"}),
    ):
        r = await user.http_client.request(method, path, data={"ticket": ticket}, headers=headers)
        assert r.status_code in (403, 405), (method, path, headers, r.status_code)
    page = await user.http_client.get("/accounts")
    assert page.status_code == 200 and "mallory" not in page.text, "still signed in, as anna"
    assert await signin.redeem(ticket), "the ticket was not spent"
    r = await user.http_client.post("/logout", headers={"Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 303
    assert (await user.http_client.get("/accounts")).status_code in (302, 307), "signed out from here"


async def test_a_cookie_planted_before_sign_in_is_not_the_signed_in_one(user: SimulatedUser, db) -> None:
    await users.create_first_user("anna", "correct horse")
    await user.open("/login")
    planted = dict(user.http_client.cookies)
    assert planted  # the visitor got a session cookie before signing in
    await _signed_in(user, "/accounts")
    assert dict(user.http_client.cookies) != planted
    transport = user.http_client._transport  # the same app, with only the planted cookie
    async with httpx.AsyncClient(transport=transport, base_url="http://test", cookies=planted) as other:
        r = await other.get("/accounts")
        assert r.status_code in (302, 307) and r.headers["location"].startswith("/login")
        r = await other.get("/contracts/new?audience=a1")  # where it was going, its query too
        assert r.headers["location"] == "/login?next=/contracts/new%3Faudience%3Da1"
    assert (await user.http_client.get("/accounts")).status_code == 200


async def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(user: SimulatedUser, db) -> None:
    await users.create_first_user("anna", "correct horse")
    await _signed_in(user, "/accounts")
    copy = dict(user.http_client.cookies)
    user.find(marker="sign-out").click()
    await user.should_see("Sign in", retries=50)
    transport = user.http_client._transport
    async with httpx.AsyncClient(transport=transport, base_url="http://test", cookies=copy) as stolen:
        r = await stolen.get("/accounts")
    assert r.status_code in (302, 307) and r.headers["location"].startswith("/login")


async def test_a_ticket_expires_and_an_expired_session_signs_nobody_in(db) -> None:
    await users.create_first_user("anna", "correct horse")
    ticket = await signin.with_password("anna", "correct horse", "10.0.0.1")
    await WebSession.filter(pending=True).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert await signin.redeem(ticket) is None
    token = await signin.redeem(await signin.with_password("anna", "correct horse", "10.0.0.1"))
    assert await signin.session_user(token) == "anna"
    await WebSession.filter(pending=False).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert await signin.session_user(token) is None
