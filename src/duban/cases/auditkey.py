"""The audit key: the secret that signs the event chain, kept outside the database.

Whoever can write the database can recompute a plain hash chain; nobody can recompute an
HMAC without its key. So the key never goes into the database:

* ``DUBAN_AUDIT_KEY`` holds ``id:secret[,id:secret...]``. The first is the current key
  (it signs new events and checkpoints); the others still verify what they signed, so a
  key is rotated by putting the new one first and keeping the old ones after it.
* Unset, the key is read from ``<var_dir>/audit.key`` (same format, one entry a line or
  comma-separated), which the first use creates with mode 0600.

Every event row records the id of the key that signed it (``case_events.key_id``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from duban.config import DEFAULT_VAR_DIR
from duban.kernel.errors import Msg

ENV = "DUBAN_AUDIT_KEY"
KEY_FILE = "audit.key"
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
#: The shortest secret accepted (characters; a generated one has 43).
MIN_SECRET = 16


class AuditKeyError(ValueError):
    """The audit key is missing, malformed or does not know a key id; ``text`` is the
    catalogue template of what is wrong (read by operators on the command line)."""

    def __init__(self, message: str | Msg) -> None:
        self.text = message if isinstance(message, Msg) else Msg(message)
        super().__init__(str(self.text))


@dataclass(frozen=True)
class AuditKeys:
    """The configured keys: ``current`` signs, every one of ``secrets`` verifies."""

    current: str
    secrets: dict[str, bytes]
    source: str
    _macs: dict[str, hmac.HMAC] = field(default_factory=dict, compare=False, repr=False)

    def mac(self, key_id: str) -> hmac.HMAC:
        """A fresh HMAC-SHA256 under ``key_id`` (raises :class:`AuditKeyError` if unknown)."""
        base = self._macs.get(key_id)
        if base is None:
            secret = self.secrets.get(key_id)
            if secret is None:
                raise AuditKeyError(
                    Msg(
                        "audit key '{key_id}' is not configured ({source_name})",
                        key_id=key_id,
                        source_name=self.source,
                    )
                )
            base = self._macs.setdefault(key_id, hmac.new(secret, digestmod=hashlib.sha256))
        return base.copy()

    def sign(self, key_id: str, text: str) -> str:
        """The hex HMAC of ``text`` under ``key_id``."""
        mac = self.mac(key_id)
        mac.update(text.encode("utf-8"))
        return mac.hexdigest()


def parse_keys(spec: str, *, source: str = ENV) -> AuditKeys:
    """Read ``id:secret[,id:secret...]`` (commas or newlines between entries)."""
    entries = [e.strip() for e in re.split(r"[,\n]", spec) if e.strip() and not e.startswith("#")]
    if not entries:
        raise AuditKeyError(
            Msg("{source_name} holds no key (write id:secret[,id:secret...])", source_name=source)
        )
    keys: dict[str, bytes] = {}
    for entry in entries:
        key_id, sep, secret = entry.partition(":")
        key_id, secret = key_id.strip(), secret.strip()
        if not sep or not _KEY_ID.match(key_id):
            raise AuditKeyError(
                Msg(
                    "{source_name}: each key is id:secret with an id of 1-32 letters, "
                    "digits, '_.-'",
                    source_name=source,
                )
            )
        if len(secret) < MIN_SECRET:
            raise AuditKeyError(
                Msg(
                    "{source_name}: the secret of '{key_id}' is shorter than {min_chars}",
                    source_name=source,
                    key_id=key_id,
                    min_chars=MIN_SECRET,
                )
            )
        if key_id in keys:
            raise AuditKeyError(
                Msg(
                    "{source_name}: key id '{key_id}' is given twice",
                    source_name=source,
                    key_id=key_id,
                )
            )
        keys[key_id] = secret.encode("utf-8")
    return AuditKeys(current=entries[0].partition(":")[0].strip(), secrets=keys, source=source)


def key_file(var_dir: Path | None = None) -> Path:
    """Where the key is kept when ``DUBAN_AUDIT_KEY`` is unset."""
    base = var_dir or Path(os.environ.get("DUBAN_VAR_DIR") or DEFAULT_VAR_DIR)
    return base / KEY_FILE


def create_key_file(path: Path, *, now: datetime | None = None) -> bool:
    """Write a fresh key to ``path`` with mode 0600 unless it exists; True if written.

    The file appears whole (written aside, then linked into place), so processes
    starting together never read it half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key_id = "k" + (now or datetime.now(UTC)).strftime("%Y%m%d")
    line = f"{key_id}:{secrets.token_urlsafe(32)}\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(line)
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
    return True


_cache: dict[tuple[str, str], AuditKeys] = {}


def audit_keys(*, create: bool = True) -> AuditKeys:
    """The configured keys (``DUBAN_AUDIT_KEY``, else the key file, created if missing
    and ``create``). Cached per process by where they came from."""
    spec = os.environ.get(ENV, "").strip()
    if spec:
        cache_key = (ENV, spec)
        keys = _cache.get(cache_key)
        if keys is None:
            keys = _cache.setdefault(cache_key, parse_keys(spec))
        return keys
    path = key_file().resolve()
    cache_key = ("file", str(path))
    keys = _cache.get(cache_key)
    if keys is not None:
        return keys
    if not path.exists():
        if not create:
            raise AuditKeyError(
                Msg("no audit key: set {env} or create {path_name}", env=ENV, path_name=str(path))
            )
        create_key_file(path)
    keys = parse_keys(path.read_text(encoding="utf-8"), source=str(path))
    return _cache.setdefault(cache_key, keys)


def forget_keys() -> None:
    """Drop the cached keys (tests; a process that rotated its key file)."""
    _cache.clear()
