"""The error tree of Duban.

Every error a use case can raise derives from :class:`DubanError`. Each carries a
machine-readable ``code`` and fields for code to read; ``str()`` is written for people.
The API turns them into HTTP responses in one place (``api/errors.py``)::

    DubanError
    ├── NotFound                 -> 404
    ├── Unauthenticated          -> 401
    ├── PermissionDenied         -> 403
    ├── Conflict                 -> 409
    │   ├── IllegalTransition(status, action, role)
    │   └── StaleCase(case_id)   (someone else changed the case first)
    ├── InvalidInput             -> 422  (field, message)
    │   └── PolicyError          (bad reference data / configuration)
    └── TooManyRequests          -> 429  (retry_after, in seconds)
"""

from __future__ import annotations

from typing import Any


class DubanError(Exception):
    """Base of every Duban error."""

    code = "error"

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotFound(DubanError):
    """The thing asked for does not exist, or the caller may not know it exists."""

    code = "not_found"


class Unauthenticated(DubanError):
    """No valid credentials were given."""

    code = "unauthenticated"


class PermissionDenied(DubanError):
    """The caller is known but may not do this."""

    code = "forbidden"


class Conflict(DubanError):
    """The request is well formed but clashes with the current state."""

    code = "conflict"


class IllegalTransition(Conflict):
    """An action that the workflow table does not allow in this status or for this role."""

    code = "illegal_transition"

    def __init__(self, *, status: str, action: str, role: str, reason: str = "") -> None:
        text = f"action '{action}' is not allowed for role '{role}' on a case in status '{status}'"
        if reason:
            text = f"{text}: {reason}"
        super().__init__(text, status=status, action=action, role=role)
        self.status = status
        self.action = action
        self.role = role


class StaleCase(Conflict):
    """Another user changed the case between our read and our write (lost update refused)."""

    code = "stale_case"

    def __init__(self, case_id: int) -> None:
        super().__init__(
            f"case {case_id} was changed by someone else at the same time; reload it and try again",
            case_id=case_id,
        )


class InvalidInput(DubanError):
    """The input is malformed or incomplete; ``field`` names what to fix."""

    code = "invalid_input"

    def __init__(self, message: str, *, field: str | None = None, **detail: Any) -> None:
        super().__init__(message, field=field, **detail)
        self.field = field


class PolicyError(InvalidInput):
    """Reference data or configuration is inconsistent."""

    code = "invalid_policy"


class TooManyRequests(DubanError):
    """A rate limit was reached; ``retry_after`` says in how many seconds to try again."""

    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int, **detail: Any) -> None:
        super().__init__(message, retry_after=retry_after, **detail)
        self.retry_after = retry_after
