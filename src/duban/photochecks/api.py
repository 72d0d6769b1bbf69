"""Findings of the photo checks, per photo and per case."""

from __future__ import annotations

from fastapi import APIRouter, Request

from duban.api.deps import ActorDep, SessionDep
from duban.api.limits import request_lang
from duban.photochecks.checks import FindingView, case_evidence, photo_findings
from duban.photochecks.schemas import (
    CaseEvidenceRead,
    FeedbackPhotoRead,
    FindingRead,
    PhotoFindingsRead,
)

router = APIRouter(tags=["photo checks"])


def _read(views: list[FindingView]) -> list[FindingRead]:
    return [FindingRead(check=v.check, result=v.result, detail=v.detail) for v in views]


@router.get(
    "/photos/{photo_id}/findings",
    response_model=PhotoFindingsRead,
    summary="What the photo checks found on a photo",
)
def findings(
    photo_id: str, request: Request, session: SessionDep, actor: ActorDep
) -> PhotoFindingsRead:
    """One finding per check (original, time, place, reused, same_scene) with a reason in
    the caller's language; 404 for a photo the caller may not see."""
    views = photo_findings(session, actor=actor, photo_id=photo_id, lang=request_lang(request))
    return PhotoFindingsRead(photo=photo_id, findings=_read(views))


@router.get(
    "/cases/{case_id}/evidence",
    response_model=CaseEvidenceRead,
    summary="The photo checks' verdict on a case's latest feedback",
)
def evidence(
    case_id: int, request: Request, session: SessionDep, actor: ActorDep
) -> CaseEvidenceRead:
    """pass / needs_look / fail, with the findings on each after-photo and the before-photo
    it was compared with. The checker decides; this helps."""
    view = case_evidence(session, actor=actor, case_id=case_id, lang=request_lang(request))
    return CaseEvidenceRead(
        verdict=view.verdict,
        suggested_rework_reason=view.suggested_rework_reason,
        feedback=[
            FeedbackPhotoRead(photo=f.photo, before=f.before, findings=_read(f.findings))
            for f in view.feedback
        ],
    )
