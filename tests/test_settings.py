"""Configuration by environment, with the seed's variable names."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from settings import Settings


def test_seed_redis_variables_build_the_url(monkeypatch) -> None:
    for name in ("REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    assert Settings().redis_dsn is None, "no Redis configured: the launcher embeds one"
    monkeypatch.setenv("REDIS_HOST", "redis")
    monkeypatch.setenv("REDIS_PORT", "6380")
    monkeypatch.setenv("REDIS_PASSWORD", "p@ss word")
    assert Settings().redis_dsn == "redis://:p%40ss%20word@redis:6380/0"
    monkeypatch.setenv("REDIS_URL", "redis://elsewhere:6379/2")
    assert Settings().redis_dsn == "redis://elsewhere:6379/2", "REDIS_URL wins"


def test_database_urls(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    assert Settings().db_url == f"sqlite://{tmp_path}/wa.sqlite3?busy_timeout=30000"
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/wa")
    assert Settings().db_url == "postgres://u:p@db:5432/wa?maxsize=10", "Prisma's postgresql:// is accepted"
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db:5432/wa?maxsize=3")
    monkeypatch.setenv("DB_POOL_SIZE", "50")
    assert Settings().db_url == "postgres://u:p@db:5432/wa?maxsize=3", "a pool size in the URL wins"


def test_port_defaults_to_the_seeds(monkeypatch) -> None:
    monkeypatch.delenv("PORT", raising=False)
    assert Settings().port == 5001


def test_the_default_phone_region_is_russia_and_must_be_one_phonenumbers_knows(monkeypatch) -> None:
    monkeypatch.delenv("DEFAULT_PHONE_REGION", raising=False)
    assert Settings().default_phone_region == "RU"
    monkeypatch.setenv("DEFAULT_PHONE_REGION", "de")
    assert Settings().default_phone_region == "DE"
    monkeypatch.setenv("DEFAULT_PHONE_REGION", "")
    assert Settings().default_phone_region == "", "none: every number must have its country code"
    monkeypatch.setenv("DEFAULT_PHONE_REGION", "XX")
    with pytest.raises(ValidationError, match="XX"):
        Settings()
