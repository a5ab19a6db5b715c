"""A task that does nothing: the broker's own throughput, the baseline for dispatch figures."""

from tasks.broker import broker


@broker.task(task_name="bench_noop")
async def noop() -> None:
    return None
