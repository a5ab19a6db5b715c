"""Small builders shared by the tests."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any


def phone(i: int) -> str:
    """A valid Russian mobile number in the seed's format, distinct for each i < 10**7."""
    return f"7999{i:07d}"


def recipients(n: int, start: int = 0, text: str = "Hi {i}!") -> list[dict[str, str]]:
    return [{"phoneNumber": phone(i), "message": text.format(i=i)} for i in range(start, start + n)]


async def new_account(client: Any, **body: Any) -> str:
    r = await client.post("/api/accounts", json={"name": "test", **body})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def new_contract(client: Any, account_id: str, n: int = 3, **extra: Any) -> str:
    body = {"accountId": account_id, "name": "test contract", "recipients": recipients(n), **extra}
    r = await client.post("/api/contracts", json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def kill_repeatedly(
    workers: Sequence[Any],
    done: Callable[[], Awaitable[bool]],
    seed: int,
    pause_s: tuple[float, float],
    most: int,
) -> int:
    """kill -9 a random worker every `pause_s` seconds (and start it again) until `done()` or `most`
    kills; how many kills there were."""
    rng = random.Random(seed)
    kills = 0
    while not await done() and kills < most:
        await asyncio.sleep(rng.uniform(*pause_s))
        victim = rng.choice(workers)
        victim.kill9()
        kills += 1
        await asyncio.sleep(0.2)
        victim.start()
    return kills


async def sign_in_page(
    user: Any, username: str, password: str, labels: Sequence[str] = ("Username", "Password", "Sign in")
) -> None:
    """Sign a simulated user in on the sign-in page (its fields and button as `labels` name them)."""
    name_field, password_field, go = labels
    await user.open("/login")
    user.find(name_field).type(username)
    user.find(password_field).type(password)
    user.find(go).click()
    await user.should_see(marker="preferences", retries=50)  # the user's menu: signed in


async def until(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 5.0) -> None:
    """Wait for what is done in the background (`check` says when), or fail saying `what`."""
    for _ in range(int(seconds / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what}: not within {seconds} s")
