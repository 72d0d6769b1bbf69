"""Every capability's tables on one metadata, for Alembic and for creating a schema.

Importing a capability's models registers its tables on :data:`Base.metadata`; the
migrations' ``env.py`` and the test fixtures import this module to see all of them.
"""

from __future__ import annotations

from duban.accounts.models import Unit, User
from duban.cases.models import (
    Case,
    CaseEvent,
    CaseHelper,
    CasePhoto,
    CaseTracker,
    IdempotencyKey,
    ImportedCase,
)
from duban.evaluation.models import Bulletin, BulletinFile, ManualScore
from duban.evidence.models import Photo
from duban.exchange.models import ExchangeCase, ExchangeLink, ExchangePush
from duban.handover.models import CaseTransfer, Responsibility
from duban.jobs.models import JobRun, JobSchedule
from duban.kernel.db.base import Base
from duban.kernel.db.models import Counter, Setting
from duban.ledgers.models import (
    Ledger,
    LedgerEvent,
    LedgerEvidence,
    LedgerNode,
    LedgerNoteFile,
    LedgerSignoff,
    LedgerSnapshot,
)
from duban.notify.models import (
    CaseContact,
    Notification,
    NotificationAttempt,
    NotifyPreference,
    WebhookSubscription,
)
from duban.open311.models import ApiKey, Open311Request, Open311Update
from duban.photochecks.models import PhotoFinding, PhotoPrint
from duban.places.models import Region, RegionUnit, RoutingRule, Zone
from duban.publicview.models import PublicSubscription
from duban.reference.models import Category, FilingCondition
from duban.supervision.models import (
    Campaign,
    CampaignCase,
    CampaignEvent,
    CampaignScope,
    DecisionEscalation,
    JointDecision,
    JointSession,
    JointSubject,
    JointUnit,
    OrderEscalation,
    OrderProblem,
    OrderUnit,
    Revisit,
    SupervisionEvent,
    SupervisionOrder,
    SupervisionRecord,
    SupervisionRule,
)

metadata = Base.metadata

__all__ = [
    "ApiKey",
    "Bulletin",
    "BulletinFile",
    "Campaign",
    "CampaignCase",
    "CampaignEvent",
    "CampaignScope",
    "Case",
    "CaseContact",
    "CaseEvent",
    "CaseHelper",
    "CasePhoto",
    "CaseTracker",
    "CaseTransfer",
    "Category",
    "Counter",
    "DecisionEscalation",
    "ExchangeCase",
    "ExchangeLink",
    "ExchangePush",
    "FilingCondition",
    "IdempotencyKey",
    "ImportedCase",
    "JobRun",
    "JobSchedule",
    "JointDecision",
    "JointSession",
    "JointSubject",
    "JointUnit",
    "Ledger",
    "LedgerEvent",
    "LedgerEvidence",
    "LedgerNode",
    "LedgerNoteFile",
    "LedgerSignoff",
    "LedgerSnapshot",
    "ManualScore",
    "Notification",
    "NotificationAttempt",
    "NotifyPreference",
    "Open311Request",
    "Open311Update",
    "OrderEscalation",
    "OrderProblem",
    "OrderUnit",
    "Photo",
    "PhotoFinding",
    "PhotoPrint",
    "PublicSubscription",
    "Region",
    "RegionUnit",
    "Responsibility",
    "Revisit",
    "RoutingRule",
    "Setting",
    "SupervisionEvent",
    "SupervisionOrder",
    "SupervisionRecord",
    "SupervisionRule",
    "Unit",
    "User",
    "WebhookSubscription",
    "Zone",
    "metadata",
]
