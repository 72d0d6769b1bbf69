"""Evaluation (综合评价, 考核): indicators computed from the case event log, scoring
schemes as data, grades, rankings and 环比, and scores entered by hand.

This is the capability's public face: other capabilities import from here, never from
its modules. Names load on first use (PEP 562). To offer a name, add it to the
TYPE_CHECKING imports, _EXPORTS and __all__ (docs/architecture.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from duban.kernel.faces import lazy_face

if TYPE_CHECKING:
    from duban.evaluation.archive import JOB_OBJECTS, last_month, make_job_bulletin
    from duban.evaluation.hotspots import find_hotspots, hotspots_geojson
    from duban.evaluation.indicators import rebuild_summary
    from duban.evaluation.missed import record_missed, relocate_missed
    from duban.evaluation.models import ManualScore
    from duban.evaluation.service import evaluate
    from duban.evaluation.summary import count_facts

_EXPORTS: dict[str, str] = {
    "JOB_OBJECTS": "duban.evaluation.archive",
    "ManualScore": "duban.evaluation.models",
    "evaluate": "duban.evaluation.service",
    "count_facts": "duban.evaluation.summary",
    "rebuild_summary": "duban.evaluation.indicators",
    "record_missed": "duban.evaluation.missed",
    "relocate_missed": "duban.evaluation.missed",
    "last_month": "duban.evaluation.archive",
    "make_job_bulletin": "duban.evaluation.archive",
    "find_hotspots": "duban.evaluation.hotspots",
    "hotspots_geojson": "duban.evaluation.hotspots",
}

__all__ = [
    "JOB_OBJECTS",
    "ManualScore",
    "count_facts",
    "evaluate",
    "find_hotspots",
    "hotspots_geojson",
    "last_month",
    "make_job_bulletin",
    "rebuild_summary",
    "record_missed",
    "relocate_missed",
]

if not TYPE_CHECKING:  # mypy reads the imports above; an unknown name stays an error
    __getattr__, __dir__ = lazy_face(__name__, _EXPORTS, __all__)
