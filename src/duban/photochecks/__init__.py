"""Photo checks: what a machine can tell about after-photos, before a person closes a case.

Findings per photo (*original*, *time*, *place*, *reused*, *same scene*), each with a reason
a person can read, and a verdict per feedback (pass / needs a look / fail). Policy per
category in ``data/photochecks.yaml``. Face: names load on first use (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from duban.kernel.faces import lazy_face

if TYPE_CHECKING:
    from duban.photochecks.checks import (
        backfill_prints,
        case_evidence,
        examine_feedback,
        latest_verdict,
        record_print,
        suggested_reason,
        thresholds_for,
        verdicts_of,
    )
    from duban.photochecks.models import PhotoFinding, PhotoPrint
    from duban.photochecks.prints import take_print
    from duban.photochecks.rules import ReworkReason

_EXPORTS: dict[str, str] = {
    "PhotoFinding": "duban.photochecks.models",
    "PhotoPrint": "duban.photochecks.models",
    "ReworkReason": "duban.photochecks.rules",
    "backfill_prints": "duban.photochecks.checks",
    "case_evidence": "duban.photochecks.checks",
    "examine_feedback": "duban.photochecks.checks",
    "latest_verdict": "duban.photochecks.checks",
    "record_print": "duban.photochecks.checks",
    "suggested_reason": "duban.photochecks.checks",
    "take_print": "duban.photochecks.prints",
    "thresholds_for": "duban.photochecks.checks",
    "verdicts_of": "duban.photochecks.checks",
}

__all__ = [
    "PhotoFinding",
    "PhotoPrint",
    "ReworkReason",
    "backfill_prints",
    "case_evidence",
    "examine_feedback",
    "latest_verdict",
    "record_print",
    "suggested_reason",
    "take_print",
    "thresholds_for",
    "verdicts_of",
]

if not TYPE_CHECKING:  # mypy reads the imports above; an unknown name stays an error
    __getattr__, __dir__ = lazy_face(__name__, _EXPORTS, __all__)
