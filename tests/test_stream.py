"""The broker fixes for taskiq-redis's pitfalls (docs/ARCHITECTURE.md), each shown against a real Redis."""

from __future__ import annotations

import asyncio
import uuid

from redis.asyncio import Redis
from taskiq.message import BrokerMessage

from services import queue
from services.queue import ResilientStreamBroker
from tasks import broker as broker_module


def make_broker(**kwargs) -> ResilientStreamBroker:
    """The product's broker on a fresh queue, with timings short enough for a test."""
    name = f"stream-test-{uuid.uuid4().hex[:8]}"
    options = dict(
        queue_name=name,
        consumer_group_name=name,
        xread_block=200,
        idle_timeout=300,
        unacknowledged_lock_timeout=1,
        maxlen=100,
    )
    return queue.build_broker(**{**options, **kwargs})


def message(text: str) -> BrokerMessage:
    return BrokerMessage(task_id=uuid.uuid4().hex, task_name="t", message=text.encode(), labels={})


async def receive(broker: ResilientStreamBroker, count: int, timeout: float) -> list[bytes]:
    """What one listener gets within `timeout` (up to `count` messages), acking each."""
    got: list[bytes] = []

    async def read() -> None:
        async for m in broker.listen():
            got.append(m.data)
            await m.ack()
            if len(got) == count:
                return

    task = asyncio.create_task(read())
    await asyncio.wait({task}, timeout=timeout)
    if not task.done():
        task.cancel()  # a redis read being cancelled may take a moment: do not wait on it for ever
        await asyncio.wait({task}, timeout=2)
    assert task.done(), "a cancelled listener must stop, or it goes on taking messages"
    return got


async def test_listening_survives_a_flush_that_deletes_the_consumer_group(redis_server) -> None:
    broker = make_broker()
    await broker.startup()
    listener = asyncio.create_task(receive(broker, 2, timeout=10))
    await broker.kick(message("before"))
    await asyncio.sleep(0.5)
    async with Redis.from_url(redis_server.url) as r:
        await r.flushall()
    await asyncio.sleep(0.5)
    await broker.kick(message("after"))
    assert await listener == [b"before", b"after"]
    await broker.shutdown()


async def test_a_dead_consumers_task_is_reclaimed_once_the_ticker_moves_the_stream(redis_server) -> None:
    broker = make_broker()
    await broker.startup()
    await broker.kick(message("orphan"))
    async with Redis.from_url(redis_server.url) as r:  # a worker reads it, then dies without ack
        await r.xreadgroup(broker.consumer_group_name, "dead", {broker.queue_name: ">"}, count=1)
    idle = await receive(broker, 1, timeout=1.5)
    assert idle == [], "the stock broker re-claims nothing on an idle stream"
    await broker.kick(message("tick"))
    assert sorted(await receive(broker, 2, timeout=5)) == [b"orphan", b"tick"]
    await broker.shutdown()


async def test_a_reclaim_lock_left_by_a_killed_worker_expires(redis_server) -> None:
    broker = make_broker()
    await broker.startup()
    async with Redis.from_url(redis_server.url) as r:  # held by a worker that was killed
        lock = r.lock(f"autoclaim:{broker.consumer_group_name}:{broker.queue_name}", timeout=1)
        await lock.acquire()
    await broker.kick(message("one"))
    await broker.kick(message("two"))
    listener = asyncio.create_task(receive(broker, 3, timeout=6))
    await asyncio.sleep(2)
    await broker.kick(message("three"))
    assert sorted(await listener) == [b"one", b"three", b"two"]
    await broker.shutdown()


async def test_the_stream_is_capped(redis_server) -> None:
    broker = make_broker(maxlen=100)
    await broker.startup()
    for i in range(1000):
        await broker.kick(message(str(i)))
    async with Redis.from_url(redis_server.url) as r:
        assert await r.xlen(broker.queue_name) <= 300
    await broker.shutdown()


async def test_many_tickers_kick_reconcile_about_once_a_second(redis_server, monkeypatch) -> None:
    broker = make_broker()
    await broker.startup()
    monkeypatch.setattr(broker_module, "broker", broker)
    tickers = [asyncio.create_task(broker_module.tick_forever(0.5)) for _ in range(3)]
    await asyncio.sleep(2.2)
    for t in tickers:
        t.cancel()
    async with Redis.from_url(redis_server.url) as r:
        kicks = await r.xlen(broker.queue_name)
    assert 3 <= kicks <= 6, f"3 tickers at 0.5 s over 2.2 s should elect ~5 kicks, saw {kicks}"
    await broker.shutdown()


async def test_a_start_kicks_each_account_once_and_reconcile_again_only_later(
    client, redis_server, monkeypatch
) -> None:
    """A kick may wait in the stream: reconcile kicks an account again only KICK_AGAIN_S after it was
    kicked (a lost kick is retried), and later still by as long as the oldest unread kick has
    waited, so that an overloaded stream does not fill with repeats (it grew without end at 10,000
    accounts)."""
    from datetime import UTC, datetime, timedelta

    from models import Account
    from tasks import reconcile
    from tests.helpers import new_account, new_contract

    broker = make_broker(maxlen=10_000)
    await broker.startup()
    monkeypatch.setattr(queue, "broker", broker)
    account = await new_account(client, transport="sandbox")
    contract = await new_contract(client, account)
    assert await queue.waiting_s() == 0
    async with Redis.from_url(redis_server.url) as r:  # kicks of other accounts, unread for 30 s
        (now_s, _) = await r.time()
        for i in range(100):
            await r.xadd(broker.queue_name, {"data": f"other {i}"}, id=f"{(now_s - 30) * 1000}-{i}")
    started = datetime.now(UTC)
    assert (await client.post(f"/api/contracts/{contract}/start")).status_code == 200
    async with Redis.from_url(redis_server.url) as r:
        assert await r.xlen(broker.queue_name) == 101, "the start kicked the account once"
    assert await reconcile.kick_due(datetime.now(UTC)) == 0, "not kicked again at the next tick"

    assert 29 < await queue.waiting_s() < 40
    later = started + timedelta(seconds=queue.KICK_AGAIN_S + 1)
    assert await reconcile.kick_due(later) == 1, "no worker took it: its kick is retried"
    (due,) = await Account.filter(id=account).values_list("next_due_at", flat=True)
    assert due >= later + timedelta(seconds=queue.KICK_AGAIN_S + 29), (
        "and then not before the backlog is read"
    )
    await broker.shutdown()
