"""The ledgers' limits, read from ``duban/data/ledgers.yaml`` (data, not code)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from duban.ledgers.rules import LedgerStatus


@dataclass(frozen=True)
class ImportLimits:
    """What an imported workbook may be."""

    max_file_bytes: int
    max_uncompressed_bytes: int
    max_ratio: int
    max_entries: int
    max_rows: int
    max_cell_chars: int
    max_errors: int


@dataclass(frozen=True)
class LedgerPolicy:
    """The ledgers' policy."""

    limits: ImportLimits
    evidence_max_bytes: int
    evidence_max_files: int
    overdue_from: frozenset[LedgerStatus]
    issuer: str = "整改工作领导小组办公室"


@cache
def ledger_policy() -> LedgerPolicy:
    """The policy of ``ledgers.yaml`` (read once)."""
    raw = yaml.safe_load(resources.files("duban.data").joinpath("ledgers.yaml").read_text("utf-8"))
    imp = raw["import"]
    return LedgerPolicy(
        limits=ImportLimits(**{k: int(v) for k, v in imp.items()}),
        evidence_max_bytes=int(raw["evidence"]["max_file_bytes"]),
        evidence_max_files=int(raw["evidence"]["max_files"]),
        overdue_from=frozenset(LedgerStatus(s) for s in raw["status"]["overdue_from"]),
        issuer=str((raw.get("reports") or {}).get("issuer") or "整改工作领导小组办公室"),
    )
