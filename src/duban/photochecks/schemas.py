"""Response schemas of the photo checks (contracts in README.md, "Photo checks")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class FindingRead(BaseModel):
    check: Literal["original", "time", "place", "reused", "same_scene"]
    result: Literal["pass", "warn", "fail", "skipped"]
    detail: str = Field(description="why, for a person (Accept-Language: zh or en)")


class PhotoFindingsRead(BaseModel):
    photo: str
    findings: list[FindingRead]


class FeedbackPhotoRead(BaseModel):
    photo: str = Field(description="an after-photo of the latest feedback")
    before: str | None = Field(description="the before-photo it was compared with")
    findings: list[FindingRead]


class CaseEvidenceRead(BaseModel):
    verdict: Literal["pass", "needs_look", "fail"] | None = Field(
        description="of the latest feedback; null before any feedback"
    )
    suggested_rework_reason: str | None = Field(
        default=None, description="what a send-back would be prefilled with"
    )
    feedback: list[FeedbackPhotoRead]
