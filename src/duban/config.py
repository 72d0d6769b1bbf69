"""Settings, validated at start: environment variables prefixed ``DUBAN_``."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from duban.kernel.db.sealed import use_secret_source

DEFAULT_VAR_DIR = Path("var")
#: The file under ``var_dir`` that keeps a generated signing key (never in the database).
SECRET_KEY_FILE = "secret_key"


class Settings(BaseSettings):
    """Runtime configuration. Every field can be set as ``DUBAN_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="DUBAN_", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_VAR_DIR / 'duban.db'}",
        description="SQLAlchemy URL; SQLite under ./var/ by default, PostgreSQL in production",
    )
    var_dir: Path = DEFAULT_VAR_DIR
    photo_dir: Path | None = Field(default=None, description="defaults to <var_dir>/photos")
    photo_s3_bucket: str | None = Field(
        default=None, description="keep photos in this S3-compatible bucket instead of photo_dir"
    )
    photo_s3_prefix: str = Field(default="", description="key prefix inside the bucket")
    photo_s3_endpoint: str | None = Field(
        default=None,
        description="endpoint of a non-AWS store (MinIO, Ceph...), e.g. http://minio:9000",
    )
    photo_s3_region: str | None = None
    env: str = Field(
        default="development",
        description="'production' refuses to start without DUBAN_SECRET_KEY; anything else "
        "(development, demo, test) keeps a generated key in <var_dir>/secret_key",
    )
    secret_key: str | None = Field(
        default=None,
        min_length=32,
        description="signs access tokens and web sessions (at least 32 characters for "
        "HS256); never stored in the database. Unset outside production, one is generated "
        "once into <var_dir>/secret_key (mode 0600)",
    )
    secret_key_old: str = Field(
        default="",
        description="earlier DUBAN_SECRET_KEY values, separated by commas: credentials "
        "sealed under them still open (new ones are sealed with DUBAN_SECRET_KEY) until "
        "`duban secrets rotate` seals them all again with the current key; then remove them",
    )
    token_ttl_minutes: int = Field(default=12 * 60, ge=1)
    timezone: str = "Asia/Shanghai"
    max_photo_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_photo_pixels: int = Field(default=40_000_000, ge=10_000)
    demo_password: str = "duban-demo"
    cjk_font: Path | None = Field(
        default=None,
        description="a CJK TrueType font (.ttf or .ttc) embedded in PDF documents; unset: "
        "the first found of the Debian fonts-wqy-microhei and fonts-noto-cjk files",
    )
    page_size_max: int = Field(default=200, ge=1)
    worker_threads: int = Field(
        default=4,
        ge=1,
        le=256,
        description="threads per server process for blocking work (database calls); "
        "more than a few per core only adds contention for the interpreter lock",
    )
    map_tile_url: str | None = Field(
        default=None,
        description="optional tile server of your own, e.g. https://tiles.example/{z}/{x}/{y}.png; "
        "unset, the map shows grids, regions and cases on a blank background",
    )
    map_tile_crs: str = Field(
        default="wgs84", description="the system the tiles are drawn in: wgs84 | gcj02"
    )
    map_tile_attribution: str = ""
    map_layers: str = Field(
        default="",
        description="base-map layers, first shown first: preset names separated by commas "
        "(tianditu, tianditu-img, amap, osm) and/or a JSON list of layers "
        '{"name", "url", "subdomains", "attribution", "crs": wgs84|gcj02, "max_zoom", '
        '"overlays"}; unset (and no map_tile_url), the map is grid-only',
    )
    tianditu_key: str | None = Field(
        default=None, description="the 天地图 key (tk) the tianditu presets need"
    )

    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="the address people reach Duban at; links in notifications start with it",
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server for email; unset: no email"
    )
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = Field(default="duban@localhost", description="the From of notification email")
    smtp_security: str = Field(
        default="none", pattern="^(none|starttls|ssl)$", description="none | starttls | ssl"
    )
    smtp_username: str | None = None
    smtp_password: str | None = None
    gateway_url: str | None = Field(
        default=None,
        description="the HTTP gateway for SMS and WeChat template messages (README); unset: none",
    )
    gateway_token: str | None = Field(default=None, description="sent as Authorization: Bearer")
    run_worker: bool = Field(
        default=False,
        description="run the background worker inside the server process (`duban serve` "
        "turns it on unless --no-worker)",
    )
    sweep_interval: float | None = Field(
        default=None, gt=0, description="seconds between sweeps (default: data/notify.yaml, 60)"
    )
    deliver_interval: float | None = Field(
        default=None, gt=0, description="seconds between outbox polls (default 5)"
    )

    @property
    def photo_root(self) -> Path:
        """Where photo files are kept."""
        return self.photo_dir or self.var_dir / "photos"

    @property
    def is_production(self) -> bool:
        """Whether this is a production deployment (``DUBAN_ENV=production``)."""
        return self.env.strip().lower() == "production"

    @property
    def is_sqlite(self) -> bool:
        """Whether the configured store is the embedded SQLite."""
        return self.database_url.startswith("sqlite")


class MissingSecretKey(RuntimeError):
    """Production without ``DUBAN_SECRET_KEY``: the server refuses to start."""


def signing_key(settings: Settings) -> str:
    """The key that signs tokens and web sessions. Never kept in the database (a copy of
    the database must not be enough to forge an admin token): ``DUBAN_SECRET_KEY``, which
    production requires; elsewhere (development, the demo) a key generated once into
    ``<var_dir>/secret_key``, readable by its owner only (mode 0600)."""
    if settings.secret_key:
        return settings.secret_key
    if settings.is_production:
        raise MissingSecretKey(
            "DUBAN_ENV=production needs DUBAN_SECRET_KEY (at least 32 characters, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`); "
            "the server does not start without it"
        )
    path = settings.var_dir / SECRET_KEY_FILE
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        key = ""
    if len(key) >= 32:
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first (or it was too short)
        existing = path.read_text(encoding="ascii").strip()
        if len(existing) >= 32:
            return existing
        path.unlink()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key + "\n")
    logging.getLogger(__name__).warning(
        "generated a signing key in %s (set DUBAN_SECRET_KEY in production)", path
    )
    return key


def old_secret_keys(settings: Settings) -> list[str]:
    """The earlier signing keys (``DUBAN_SECRET_KEY_OLD``) sealed credentials may still be
    sealed under."""
    return [k.strip() for k in settings.secret_key_old.split(",") if k.strip()]


def _environment_sealing_keys() -> list[str]:
    settings = Settings()
    return [signing_key(settings), *old_secret_keys(settings)]


# Credentials kept sealed in the database are sealed with the signing key of this
# environment and open with it or an earlier one (a key being rotated).
use_secret_source(_environment_sealing_keys)
