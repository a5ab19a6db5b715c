"""Configuration from the environment (pydantic-settings); one object, read once per process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import phonenumbers
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    port: int = 5001
    host: str = "0.0.0.0"
    data_dir: Path = Path("data")
    database_url: str | None = None
    redis_url: str | None = None
    redis_host: str | None = None
    redis_port: int = 6379
    redis_password: str | None = None
    api_secret_key: str | None = None
    # The taskiq stream; tests give each run its own so parallel runs never share tasks.
    queue_name: str = "wa:tasks"

    # The web server's limits against hostile clients (ui/guarded_http.py).
    http_max_head_bytes: int = Field(64 * 1024, ge=1024, description="request line and headers (431 past it)")
    http_head_timeout_s: float = Field(
        10, gt=0, description="a request's head must arrive whole in this time"
    )
    http_body_idle_timeout_s: float = Field(30, gt=0, description="longest silence within a request body")
    http_min_body_bytes_per_s: float = Field(1024, ge=0, description="a body's slowest average rate")
    http_max_connections: int = Field(1000, ge=1, description="open HTTP connections (WebSockets apart)")
    http_max_connections_per_address: int = Field(200, ge=1, description="of them, from one address")
    http_max_websockets_per_address: int = Field(100, ge=1, description="dashboard tabs from one address")
    http_max_anonymous_sockets_per_address: int = Field(
        20, ge=1, description="of the dashboard's sockets from one address, those without a sign-in"
    )
    # A client's address is the TCP peer's, unless the peer is one of these (comma-separated addresses
    # or networks, `*` for any): then it is the last address in X-Forwarded-For that is not. Nobody
    # by default (uvicorn's own default trusts 127.0.0.1, so any local client could pick its address).
    forwarded_allow_ips: str = Field("", description="the reverse proxies whose X-Forwarded-For is believed")
    session_cookie_secure: bool = Field(
        False, description="the dashboard's cookie only over HTTPS (and HSTS)"
    )
    session_max_age_s: int = Field(7 * 86400, ge=60, description="how long a dashboard sign-in lasts")

    max_recipients: int = 1_000_000
    max_body_bytes: int = 256 * 1024 * 1024
    # A JSON body (POST /api/contracts): parsed whole, ~11 bytes of memory a byte; some 100,000
    # recipients. Longer lists go as CSV to the import, which reads a row at a time.
    max_json_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    # The dashboard wizard's uploads, sized so that reading any accepted file costs the web process at
    # most 300 MiB (docs/BENCHMARKS.md). A CSV file (kept whole, as its bytes) or pasted text at most
    # max_upload_bytes. An XLSX workbook, from its zip directory before it is opened: its unpacked size
    # at most max_xlsx_unzipped_bytes and max_xlsx_ratio times the file's; its shared strings (which
    # openpyxl keeps whole, ~8 bytes of memory per byte) at most max_xlsx_strings_bytes; the other parts
    # openpyxl reads whole (styles, workbook, theme…; up to ~120 bytes per byte) at most
    # max_xlsx_part_bytes together; its first sheet, as CSV text, at most max_xlsx_text_bytes.
    max_upload_bytes: int = 200 * 1024 * 1024
    max_xlsx_unzipped_bytes: int = 1024 * 1024 * 1024
    max_xlsx_ratio: float = 100
    max_xlsx_strings_bytes: int = 12 * 1024 * 1024
    max_xlsx_part_bytes: int = 512 * 1024
    max_xlsx_text_bytes: int = 48 * 1024 * 1024

    # Pacing defaults (the seed's figures), per account unless the account has useLimits false.
    per_minute: int = 20
    break_every: int = 5
    break_min_s: float = 30
    break_max_s: float = 120
    gap_min_s: float = 3
    gap_max_s: float = 8
    delay_min_s: float = 0.5
    delay_max_s: float = 2
    daily_cap_min: int = 500
    daily_cap_max: int = 1000
    daily_cap_ramp_days: int = 30
    typing_chars_per_s: float = 12
    typing_min_s: float = 1
    typing_max_s: float = 8

    max_attempts: int = 3
    retry_backoff_s: float = 2

    # Worker mechanics: a driver sending back to back (limits off) lets its account go after
    # task_budget_s; a paced one waits in place for up to hold_wait_s (gaps, typing, breaks), and lets
    # it go before a longer wait (a daily cap, quiet hours), to be driven again when it is due.
    task_budget_s: float = 10
    hold_wait_s: float = Field(300, ge=0, description="the longest wait a paced driver waits in place")
    # A worker renews every lease it holds each third of this, a row write per account: at 10 s and
    # 10,000 paced accounts, renewals took half the machine (docs/BENCHMARKS.md).
    lease_ttl_s: float = Field(30, gt=0, description="a dead worker's accounts move on after this")
    db_outage_wait_s: float = Field(30, ge=0, description="how long sent messages wait to be recorded")
    batch_size: int = 500
    batch_window_s: float = 0.3
    stream_idle_timeout_s: int = 120
    stream_maxlen: int = 100_000
    reconcile_interval_s: int = 1
    kick_timeout_s: float = 2
    db_pool_size: int = Field(10, ge=1, description="PostgreSQL connections per process at most")
    worker_nice: int = Field(10, ge=0, le=19, description="CPU niceness added to each worker process")

    # Pools and health (services/pools.py): how long a disconnected account keeps its recipients before
    # the pool's other accounts take them over, and how long a rate-limited account rests.
    failover_grace_s: float = Field(600, ge=0, description="how long a DISCONNECTED account keeps them")
    rate_limit_cooldown_s: float = Field(900, ge=0)

    # Health rules (services/account_health.py), on what each account did over the last
    # health_window_s: slow it down, or pause it for health_cooldown_s (then it resumes by itself). A
    # failure share counts from health_min_sends sends (sent + failed) on; a count of 0 turns its rule off.
    health_window_s: float = Field(3600, gt=0, description="how far back the health figures look")
    health_min_sends: int = Field(20, ge=1, description="sends before a failure share counts")
    health_slow_failure_share: float = Field(0.1, gt=0, le=1, description="slow down from this share failed")
    health_slow_retried: int = Field(5, ge=0, description="… or from this many transient errors")
    health_slow_factor: float = Field(2, ge=1, description="a slowed account's gaps and breaks, times this")
    health_pause_failure_share: float = Field(0.3, gt=0, le=1, description="pause from this share failed")
    health_pause_rate_limits: int = Field(2, ge=0, description="… or from this many rate limits")
    health_pause_disconnects: int = Field(3, ge=0, description="… or from this many disconnects")
    health_cooldown_s: float = Field(1800, ge=0, description="how long a health rule pauses an account")

    # Quiet hours (services/timezones.py): contracts send only inside this window of the recipient's
    # local time, on these ISO weekdays (1 Monday … 7 Sunday), unless a contract sets its own.
    send_window_start: str = Field("09:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    send_window_end: str = Field("21:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    send_days: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7])
    # A number placed in several zones gets its country's home zone (by country code), if listed.
    home_time_zones: dict[str, str] = Field(
        default_factory=lambda: {
            "7": "Europe/Moscow",
            "1": "America/New_York",
            "52": "America/Mexico_City",
            "55": "America/Sao_Paulo",
            "61": "Australia/Sydney",
            "62": "Asia/Jakarta",
        }
    )
    default_time_zone: str = Field("UTC", description="for numbers the time-zone data does not know")
    # Whose national numbers a number written without a country code is (services/phones.py): the API,
    # its CSV import, opt-outs, and the wizard unless another is chosen there. "" for none.
    default_phone_region: str = Field("RU", description='two letters, e.g. RU, KZ, DE; "" for none')

    # Transports besides the built-in sandbox and whatsapp: modules holding a `TRANSPORT` (wa/registry.py).
    transport_plugins: list[str] = Field(default_factory=list, description="module names, as a JSON list")

    # WhatsApp accounts (wa/): sessions held per worker, numbers' WhatsApp check cached, opt-out words.
    whatsapp_client: str = Field(
        "neonize.aioze.client:NewAClient", description="module:class of the neonize client to use"
    )
    whatsapp_sessions_per_worker: int = Field(50, ge=1)
    session_tick_s: float = Field(1, gt=0, description="how often a worker looks for sessions and work")
    number_check_days: float = Field(30, ge=0, description="how long an is-on-WhatsApp answer is kept")
    stop_words: list[str] = Field(default_factory=lambda: ["stop", "стоп", "unsubscribe"])

    @field_validator("default_phone_region")
    @classmethod
    def _known_region(cls, region: str) -> str:
        region = region.strip().upper()
        if region and region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{region!r} is not a region phonenumbers knows: two letters, e.g. RU or DE")
        return region

    @property
    def db_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://"):
                url = "postgres://" + url.removeprefix("postgresql://")
            if url.startswith("sqlite://") and "busy_timeout" not in url:
                url += ("&" if "?" in url else "?") + "busy_timeout=30000"
            if url.startswith("postgres://") and "maxsize" not in url:
                url += ("&" if "?" in url else "?") + f"maxsize={self.db_pool_size}"
            return url
        return f"sqlite://{self.data_dir / 'wa.sqlite3'}?busy_timeout=30000"

    @property
    def redis_dsn(self) -> str | None:
        """The Redis to use, or None when the embedded server must be started."""
        if self.redis_url:
            return self.redis_url
        if self.redis_host:
            auth = f":{quote(self.redis_password)}@" if self.redis_password else ""
            return f"redis://{auth}{self.redis_host}:{self.redis_port}/0"
        return None


@lru_cache
def get_settings() -> Settings:
    return Settings()


def tortoise_config(db_url: str | None = None) -> dict:
    return {
        "connections": {"default": db_url or get_settings().db_url},
        "apps": {
            "models": {
                "models": ["models"],
                "default_connection": "default",
                "migrations": "models.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }
