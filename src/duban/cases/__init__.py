"""Cases: the workflow and deadlines, intake, actions, reads and the case file.

This is the capability's public face: other capabilities import from here, never
from its modules. Names load on first use (PEP 562), so importing the face imports
nothing and no import cycle passes through it. To offer a name, add it to the
TYPE_CHECKING imports, _EXPORTS and __all__ (docs/architecture.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from duban.kernel.faces import lazy_face

if TYPE_CHECKING:
    from duban.cases.access import CITY_WIDE, can_see, in_territory, is_staff, visible_cases
    from duban.cases.actions import (
        ActionInput,
        NewCase,
        collector_for_point,
        get_case,
        perform_action,
        report_case,
    )
    from duban.cases.audit import append_event
    from duban.cases.auditkey import AuditKeyError, AuditKeys, audit_keys
    from duban.cases.casefile import photo_for_viewer
    from duban.cases.chains import ChainReport, collect, sign_link, verify_links
    from duban.cases.factrules import Fact, case_facts
    from duban.cases.facts import charged_events_sql, mark_counted, rebuild_facts
    from duban.cases.intake import (
        PreparedReport,
        ReportRefs,
        new_case_ids,
        prepare_report,
        report_event_row,
        report_refs,
        reserve_case_codes,
        write_reports,
    )
    from duban.cases.mapcounts import (
        counted_cells,
        map_counts_drift,
        rebuild_map_counts,
    )
    from duban.cases.models import (
        COUNTED_KEY_SQL,
        RECOUNT_SQL,
        Case,
        CaseEvent,
        CaseFact,
        CasePhoto,
        ImportedCase,
    )
    from duban.cases.nearby import nearby_cases
    from duban.cases.public import PublicCase, public_view
    from duban.cases.queries import (
        CaseFilter,
        apply_case_filter,
        list_cases,
        overdue_condition,
    )
    from duban.cases.workflow import (
        OPEN,
        PUBLIC_NOTE_ACTIONS,
        REPORT_SOURCES,
        SOURCE_LABELS,
        STATUS_LABELS,
        STEP_OF_STATUS,
        TERMINAL,
        Action,
        CaseStatus,
        Source,
        initial_status,
    )

_EXPORTS: dict[str, str] = {
    "CITY_WIDE": "duban.cases.access",
    "OPEN": "duban.cases.workflow",
    "PUBLIC_NOTE_ACTIONS": "duban.cases.workflow",
    "REPORT_SOURCES": "duban.cases.workflow",
    "SOURCE_LABELS": "duban.cases.workflow",
    "STATUS_LABELS": "duban.cases.workflow",
    "STEP_OF_STATUS": "duban.cases.workflow",
    "TERMINAL": "duban.cases.workflow",
    "Action": "duban.cases.workflow",
    "ActionInput": "duban.cases.actions",
    "Case": "duban.cases.models",
    "CaseFact": "duban.cases.models",
    "Fact": "duban.cases.factrules",
    "case_facts": "duban.cases.factrules",
    "rebuild_facts": "duban.cases.facts",
    "counted_cells": "duban.cases.mapcounts",
    "map_counts_drift": "duban.cases.mapcounts",
    "rebuild_map_counts": "duban.cases.mapcounts",
    "charged_events_sql": "duban.cases.facts",
    "mark_counted": "duban.cases.facts",
    "COUNTED_KEY_SQL": "duban.cases.models",
    "RECOUNT_SQL": "duban.cases.models",
    "CaseEvent": "duban.cases.models",
    "CaseFilter": "duban.cases.queries",
    "CasePhoto": "duban.cases.models",
    "CaseStatus": "duban.cases.workflow",
    "NewCase": "duban.cases.actions",
    "PreparedReport": "duban.cases.intake",
    "ReportRefs": "duban.cases.intake",
    "Source": "duban.cases.workflow",
    "ImportedCase": "duban.cases.models",
    "append_event": "duban.cases.audit",
    "audit_keys": "duban.cases.auditkey",
    "ChainReport": "duban.cases.chains",
    "collect": "duban.cases.chains",
    "sign_link": "duban.cases.chains",
    "verify_links": "duban.cases.chains",
    "AuditKeyError": "duban.cases.auditkey",
    "AuditKeys": "duban.cases.auditkey",
    "apply_case_filter": "duban.cases.queries",
    "list_cases": "duban.cases.queries",
    "can_see": "duban.cases.access",
    "collector_for_point": "duban.cases.actions",
    "get_case": "duban.cases.actions",
    "initial_status": "duban.cases.workflow",
    "in_territory": "duban.cases.access",
    "is_staff": "duban.cases.access",
    "visible_cases": "duban.cases.access",
    "nearby_cases": "duban.cases.nearby",
    "PublicCase": "duban.cases.public",
    "public_view": "duban.cases.public",
    "overdue_condition": "duban.cases.queries",
    "new_case_ids": "duban.cases.intake",
    "perform_action": "duban.cases.actions",
    "photo_for_viewer": "duban.cases.casefile",
    "prepare_report": "duban.cases.intake",
    "report_case": "duban.cases.actions",
    "report_event_row": "duban.cases.intake",
    "report_refs": "duban.cases.intake",
    "reserve_case_codes": "duban.cases.intake",
    "write_reports": "duban.cases.intake",
}

__all__ = [
    "CITY_WIDE",
    "COUNTED_KEY_SQL",
    "OPEN",
    "PUBLIC_NOTE_ACTIONS",
    "RECOUNT_SQL",
    "REPORT_SOURCES",
    "SOURCE_LABELS",
    "STATUS_LABELS",
    "STEP_OF_STATUS",
    "TERMINAL",
    "Action",
    "ActionInput",
    "AuditKeyError",
    "AuditKeys",
    "Case",
    "CaseEvent",
    "CaseFact",
    "CaseFilter",
    "CasePhoto",
    "CaseStatus",
    "ChainReport",
    "Fact",
    "ImportedCase",
    "NewCase",
    "PreparedReport",
    "PublicCase",
    "ReportRefs",
    "Source",
    "append_event",
    "apply_case_filter",
    "audit_keys",
    "can_see",
    "case_facts",
    "charged_events_sql",
    "collect",
    "collector_for_point",
    "counted_cells",
    "get_case",
    "in_territory",
    "initial_status",
    "is_staff",
    "list_cases",
    "map_counts_drift",
    "mark_counted",
    "nearby_cases",
    "new_case_ids",
    "overdue_condition",
    "perform_action",
    "photo_for_viewer",
    "prepare_report",
    "public_view",
    "rebuild_facts",
    "rebuild_map_counts",
    "report_case",
    "report_event_row",
    "report_refs",
    "reserve_case_codes",
    "sign_link",
    "verify_links",
    "visible_cases",
    "write_reports",
]

if not TYPE_CHECKING:  # mypy reads the imports above; an unknown name stays an error
    __getattr__, __dir__ = lazy_face(__name__, _EXPORTS, __all__)
