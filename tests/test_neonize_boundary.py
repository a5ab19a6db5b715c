"""The real neonize library, up to the network: it loads on this machine, and the adapter builds its
client on the product's database settings (SQLite and PostgreSQL) without connecting anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from settings import Settings
from wa.whatsapp.client import build_client, session_database

DEVICE = {"User": "79990001122", "Server": "s.whatsapp.net", "Device": 7}


def test_the_bundled_whatsmeow_library_loads_from_the_wheel() -> None:
    import neonize
    from neonize._binder import gocode

    assert Path(gocode._name).parent == Path(neonize.__file__).parent, "bundled, not downloaded"
    assert gocode.GetVersion() == neonize.__version__.encode() == b"0.5.2"


@pytest.mark.parametrize(
    ("database_url", "expected"),
    [
        (
            "postgres://wa:secret@db:5432/wa?maxsize=10&minsize=1",
            "postgres://wa:secret@db:5432/wa?sslmode=disable",
        ),
        ("postgresql://wa@127.0.0.1/wa?sslmode=require", "postgres://wa@127.0.0.1/wa?sslmode=require"),
        ("sqlite:///srv/wa/data/wa.sqlite3?busy_timeout=30000", "/srv/wa/data/whatsapp-sessions.sqlite3"),
    ],
)
def test_sessions_live_in_the_products_own_database(database_url: str, expected: str) -> None:
    assert session_database(Settings(database_url=database_url)) == expected


def test_the_embedded_default_keeps_sessions_beside_its_own_file(tmp_path: Path) -> None:
    s = Settings(database_url=None, data_dir=tmp_path)
    assert session_database(s) == str(tmp_path / "whatsapp-sessions.sqlite3")


@pytest.mark.parametrize("database_url", [None, "postgres://postgres@127.0.0.1:5432/test?maxsize=10"])
def test_the_adapter_builds_the_real_client_without_connecting(
    tmp_path: Path, database_url: str | None
) -> None:
    from neonize.aioze.client import NewAClient
    from neonize.proto.Neonize_pb2 import JID

    s = Settings(database_url=database_url, data_dir=tmp_path)
    fresh = build_client("acc_new", None, s)
    assert isinstance(fresh, NewAClient)
    assert (fresh.name, fresh.uuid, fresh.new_device, fresh.jid) == (
        session_database(s),
        b"acc_new",
        True,
        None,
    )
    resumed = build_client("acc_old", DEVICE, s)
    assert resumed.jid == JID(**DEVICE) and not resumed.new_device
    assert resumed.connect_task is None and not resumed.connected
    assert list(tmp_path.iterdir()) == [], "nothing was opened: no session store, no connection"
