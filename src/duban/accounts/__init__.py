"""Accounts: units (责任单位), users, roles and sign-in.

This is the capability's public face: other capabilities import from here, never
from its modules. Names load on first use (PEP 562), so importing the face imports
nothing and no import cycle passes through it. To offer a name, add it to the
TYPE_CHECKING imports, _EXPORTS and __all__ (docs/architecture.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from duban.kernel.faces import lazy_face

if TYPE_CHECKING:
    from duban.accounts.beats import beat_grid_counts, grids_changed, resolve_beat_grids
    from duban.accounts.models import CollectorBeatGrid, Unit, User
    from duban.accounts.users import actor_of, create_unit, create_user, set_beat

_EXPORTS: dict[str, str] = {
    "CollectorBeatGrid": "duban.accounts.models",
    "Unit": "duban.accounts.models",
    "User": "duban.accounts.models",
    "actor_of": "duban.accounts.users",
    "beat_grid_counts": "duban.accounts.beats",
    "create_unit": "duban.accounts.users",
    "create_user": "duban.accounts.users",
    "grids_changed": "duban.accounts.beats",
    "resolve_beat_grids": "duban.accounts.beats",
    "set_beat": "duban.accounts.users",
}

__all__ = [
    "CollectorBeatGrid",
    "Unit",
    "User",
    "actor_of",
    "beat_grid_counts",
    "create_unit",
    "create_user",
    "grids_changed",
    "resolve_beat_grids",
    "set_beat",
]

if not TYPE_CHECKING:  # mypy reads the imports above; an unknown name stays an error
    __getattr__, __dir__ = lazy_face(__name__, _EXPORTS, __all__)
