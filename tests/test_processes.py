"""Child processes die with their parent, whatever kills the parent (services/lifeline.py).

Each test kills one process alone (os.kill of its pid, never its group) and looks for anything it had
started: a taskiq supervisor's worker child, the web process's phone-check pool, everything
`cli.py run` started (web, worker, embedded Redis, and their own children).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from models import Account, AccountStatus, Worker
from tests.conftest import wait_until
from tests.servers import Process, free_port, wait_for_port
from tests.test_secrets import assert_private

GONE_WITHIN_S = 10


def living(procs: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running (a zombie waiting for its reaper has stopped running)."""
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def family(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def wait_for_family(pid: int, predicate, timeout: float = 60) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = living(family(pid))
        if predicate(kids):
            return kids
        time.sleep(0.1)
    raise AssertionError(f"pid {pid} never had the expected children: {[k.cmdline() for k in kids]}")


def assert_all_gone(procs: list[psutil.Process], timeout: float = GONE_WITHIN_S) -> float:
    """Wait until none of `procs` runs; return how long that took. Leftovers are killed, then reported."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if not living(procs):
            return time.monotonic() - start
        time.sleep(0.05)
    left = living(procs)
    described = [(p.pid, " ".join(p.cmdline())[:120]) for p in left]
    for p in left:
        p.kill()
    raise AssertionError(f"still running {timeout} s after their parent stopped: {described}")


def kill_alone(proc: Process, sig: signal.Signals) -> None:
    assert proc.proc is not None
    os.kill(proc.proc.pid, sig)


def is_python(p: psutil.Process, *words: str) -> bool:
    line = " ".join(p.cmdline())
    return all(w in line for w in words)


async def test_worker_child_dies_with_its_killed_supervisor(db, processes) -> None:
    sup = processes("worker")
    child = wait_for_family(sup.proc.pid, lambda kids: len(kids) >= 1)[0]

    async def serving() -> bool:  # the child has run its startup hook and writes its heartbeat
        return await Worker.filter(pid=child.pid).exists()

    await wait_until(serving, timeout=60, what="the worker child to start")
    kill_alone(sup, signal.SIGKILL)
    took = assert_all_gone([child])
    print(f"worker child gone {took:.1f} s after its supervisor's kill -9")


async def test_worker_child_started_as_its_supervisor_dies_does_not_stay(db, processes) -> None:
    """The race: the supervisor is gone before the child's startup hook runs."""
    sup = processes("worker")
    child = wait_for_family(sup.proc.pid, lambda kids: len(kids) >= 1, timeout=30)[0]
    kill_alone(sup, signal.SIGKILL)
    took = assert_all_gone([child], timeout=GONE_WITHIN_S + 20)  # it imports everything first
    print(f"worker child killed while starting gone in {took:.1f} s")


def start_web(tmp_path: Path, **env: str) -> tuple[Process, int]:
    port = free_port()
    proc = Process(["main.py"], {**os.environ, "PORT": str(port), **env}, tmp_path / "web.log").start()
    wait_for_port(port, timeout=60)
    return proc, port


def pool_children(kids: list[psutil.Process]) -> list[psutil.Process]:
    return [k for k in kids if is_python(k, "multiprocessing.spawn", "spawn_main")]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "kill-9"])
async def test_web_process_pool_dies_with_the_web_process(db, tmp_path: Path, sig: signal.Signals) -> None:
    web, _ = start_web(tmp_path)
    try:
        kids = wait_for_family(web.proc.pid, lambda kids: len(pool_children(kids)) >= 1)
        assert len(pool_children(kids)) == (os.cpu_count() or 1)
        kill_alone(web, sig)
        took = assert_all_gone([psutil.Process(web.proc.pid), *kids])
        print(f"web process and its {len(kids)} children gone {took:.1f} s after {sig.name}")
    finally:
        web.stop()


def cli_run_env(tmp_path: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # the embedded Redis, too
    env.update(PORT=str(port), DATA_DIR=str(tmp_path / "data"))
    return env


def start_cli_run(tmp_path: Path) -> tuple[Process, list[psutil.Process]]:
    """`cli.py run`, once its web process listens and its worker has its child; with its whole family."""
    port = free_port()
    run = Process(["cli.py", "run"], cli_run_env(tmp_path, port), tmp_path / "run.log").start()
    wait_for_port(port, timeout=60)

    def complete(kids: list[psutil.Process]) -> bool:
        return (
            any("redis-server" in k.name() for k in kids)
            and any(is_python(k, "main.py") for k in kids)
            and len([k for k in kids if is_python(k, "taskiq", "worker")]) >= 2  # supervisor, child
            and len(pool_children(kids)) >= 1
        )

    return run, wait_for_family(run.proc.pid, complete)


def test_cli_run_killed_alone_leaves_nothing_behind(db, tmp_path: Path) -> None:
    run, kids = start_cli_run(tmp_path)
    try:
        kill_alone(run, signal.SIGKILL)
        took = assert_all_gone(kids, timeout=GONE_WITHIN_S + 5)
        print(f"cli.py run kill -9: its {len(kids)} descendants gone in {took:.1f} s")
    finally:
        run.stop()


def test_cli_run_stopped_stops_everything(db, tmp_path: Path) -> None:
    run, kids = start_cli_run(tmp_path)
    try:
        kill_alone(run, signal.SIGTERM)
        assert run.proc.wait(timeout=30) == 0
        took = assert_all_gone(kids, timeout=1)  # it waits for its children before it exits
        print(f"cli.py run SIGTERM: all {len(kids)} descendants gone when it exited (+{took:.1f} s)")
        assert_private(tmp_path / "data")  # the embedded Redis's append-only files, too
    finally:
        run.stop()


def test_cli_run_restarts_a_dead_child_without_leaving_its_children(db, tmp_path: Path) -> None:
    """A worker supervisor killed alone under `cli.py run`: its child goes, a new supervisor comes."""
    run, kids = start_cli_run(tmp_path)
    try:
        sup = next(k for k in kids if is_python(k, "taskiq", "worker") and k.ppid() == run.proc.pid)
        child = sup.children()[0]
        os.kill(sup.pid, signal.SIGKILL)
        assert_all_gone([sup, child])
        fresh = wait_for_family(
            run.proc.pid,
            lambda now: any(is_python(k, "taskiq", "worker") and k.pid != sup.pid for k in now),
        )
        assert sum(1 for k in fresh if is_python(k, "taskiq", "worker") and k.ppid() == run.proc.pid) == 1
    finally:
        run.stop()


def test_cli_worker_is_the_one_worker_command_compose_runs(db, tmp_path: Path) -> None:
    """The worker's module list is written once (cli.py): `cli.py worker` becomes that worker, and
    docker-compose.yml's worker service runs it."""
    import yaml

    compose = yaml.safe_load((Path(__file__).parent.parent / "docker-compose.yml").read_text())
    assert compose["services"]["worker"]["command"] == ["python", "cli.py", "worker"]
    proc = Process(["cli.py", "worker"], dict(os.environ), tmp_path / "worker.log").start()
    try:
        assert proc.proc is not None
        me = psutil.Process(proc.proc.pid)
        deadline = time.monotonic() + 30
        while not is_python(me, "taskiq", "worker", "tasks.drivers", "tasks.reconcile"):
            assert time.monotonic() < deadline, me.cmdline()
            time.sleep(0.1)
        wait_for_family(proc.proc.pid, lambda kids: any(is_python(k, "taskiq") for k in kids))
    finally:
        proc.stop()


def zombie_children(pid: int) -> list[str]:
    """The children of `pid` that have exited without being waited for, as `pid name`."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            with contextlib.suppress(FileNotFoundError):
                stat = Path(f"/proc/{child}/stat").read_text()
                name, state = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2]
                if state == "Z":
                    found.append(f"{child} {name}")
    return found


async def test_a_worker_that_opened_a_whatsapp_session_leaves_no_zombie_child(db, processes) -> None:
    """neonize runs `uname -a` through a shell as it loads and never waits for it: before, a
    `[sh] <defunct>` stayed under the worker for as long as it ran."""
    sup = processes("worker", WHATSAPP_CLIENT="tests.fake_neonize:FakeClient", SESSION_TICK_S="0.2")
    await Account.create(
        name="Phone",
        transport="whatsapp",
        status=AccountStatus.CONNECTED,
        device_jid={"User": "79990000001", "Server": "s.whatsapp.net", "Device": 1},
    )
    child = wait_for_family(sup.proc.pid, lambda kids: any(is_python(k, "taskiq") for k in kids))[0]

    def neonize_loaded() -> bool:
        return "neonize-linux" in Path(f"/proc/{child.pid}/maps").read_text()

    deadline = time.monotonic() + 60
    while not neonize_loaded():
        assert time.monotonic() < deadline, "the worker never opened the account's session"
        time.sleep(0.2)
    time.sleep(1)  # the shell has long exited
    assert zombie_children(child.pid) == []
