"""The data folder is its owner's only, and the API key is shown once, when generated, never logged.

The folder holds password hashes, phone numbers, messages, the API key and WhatsApp device keys.
Each entry point sets its umask to 077 and makes the folder 0700; an older install's files are
tightened at start.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import psutil

from models import Worker
from tests.conftest import API_KEY, wait_until
from tests.servers import ROOT, Process, free_port, wait_for_port


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes(folder: Path) -> dict[str, str]:
    """Every path under `folder` (itself as '.') with its mode in octal."""
    return {str(p.relative_to(folder)): oct(mode(p)) for p in [folder, *folder.rglob("*")]}


def assert_private(folder: Path) -> None:
    """Folders 0700, files 0600 (nothing for the group or others)."""
    found = modes(folder)
    assert found["."] == "0o700", found
    leaky = {p: m for p, m in found.items() if int(m, 8) & 0o077}
    assert not leaky, f"readable by others: {leaky}"


def fresh_install_env(data: Path, port: int | None = None) -> dict[str, str]:
    """The embedded defaults: SQLite in the data folder, no key configured."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "API_SECRET_KEY")}
    env.update(DATA_DIR=str(data))
    if port:
        env.update(PORT=str(port))
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "cli.py", "migrate"], cwd=ROOT, env=env, check=True, timeout=120)


def proc_umask(pid: int) -> str:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(line.split()[1] for line in status.splitlines() if line.startswith("Umask:"))


async def test_a_fresh_install_is_private_and_shows_its_new_key_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    migrate(fresh_install_env(data))
    port = free_port()
    log = tmp_path / "web.log"
    web = Process(["main.py"], fresh_install_env(data, port), log).start()
    try:
        wait_for_port(port, timeout=60)
        assert proc_umask(web.proc.pid) == "0077"
        key = (data / "api_key").read_text().strip()
        assert log.read_text().count(key) == 1, "the start that generated the key shows it, once"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            assert (await http.get("/api/queues/status", headers={"X-API-Key": key})).status_code == 200
    finally:
        web.stop()
    assert {"wa.sqlite3", "api_key"} <= {p.name for p in data.iterdir()}
    assert_private(data)

    again = tmp_path / "again.log"
    web = Process(["main.py"], fresh_install_env(data, port), again).start()
    try:
        wait_for_port(port, timeout=60)
    finally:
        web.stop()
    assert key not in again.read_text(), "a later start does not show the key"
    assert str(data / "api_key") in again.read_text(), "it says where the key is kept"


NICEGUI_PROBE = """
import runpy, sys, types

def run():  # instead of serving: what NiceGUI does when a signed-in user's storage changes
    from nicegui.storage import Storage

    Storage._create_persistent_dict("user-probe")["user"] = "anna"

sys.modules["ui.server"] = types.SimpleNamespace(run=run)
runpy.run_path("main.py", run_name="__main__")
"""


def test_nicegui_storage_of_the_web_process_is_in_the_private_data_folder(tmp_path: Path) -> None:
    """NiceGUI writes per-user storage files (storage-user-*.json) to ./.nicegui unless told otherwise."""
    data = tmp_path / "data"
    env = {**fresh_install_env(data), "API_SECRET_KEY": API_KEY}
    env.pop("NICEGUI_STORAGE_PATH", None)
    subprocess.run([sys.executable, "-c", NICEGUI_PROBE], cwd=ROOT, env=env, check=True, timeout=120)
    assert (data / "nicegui" / "storage-user-probe.json").read_text() == '{"user":"anna"}'
    assert_private(data)


async def test_the_web_process_never_logs_the_key(web, tmp_path: Path) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        assert (await http.get("/api/queues/status", headers={"X-API-Key": API_KEY})).status_code == 200
        assert (await http.get("/api/queues/status", headers={"X-API-Key": "wrong"})).status_code == 401
    text = (tmp_path / "web.log").read_text()
    assert API_KEY not in text
    assert "API_SECRET_KEY" in text, "it says where the key comes from"


def test_an_older_install_readable_by_others_is_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = fresh_install_env(data)
    migrate(env)
    aof = data / "appendonlydir"
    aof.mkdir()
    (aof / "appendonly.aof.1.incr.aof").write_text("")
    (data / "api_key").write_text("an-old-key")
    (data / "whatsapp-sessions.sqlite3").write_text("")
    for path in [data, *data.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)

    migrate(env)  # what every start does first (cli.py run, the Docker image's command)

    assert_private(data)
    assert (data / "api_key").read_text() == "an-old-key"


async def test_a_worker_creates_files_for_its_owner_only(db, processes) -> None:
    """Its database connection and the WhatsApp session store (whatsmeow's SQLite file) are new files."""
    sup = processes("worker")
    children: list[psutil.Process] = []

    async def started() -> bool:  # the child has run its startup hook and writes its heartbeat
        children[:] = psutil.Process(sup.proc.pid).children()
        return bool(children) and await Worker.filter(pid=children[0].pid).exists()

    await wait_until(started, timeout=60, what="the worker child's heartbeat")
    assert proc_umask(children[0].pid) == "0077"
