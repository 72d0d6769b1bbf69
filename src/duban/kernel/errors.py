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

Messages are not written out where an error is raised: an error carries a *template*, the
English text with ``{name}`` placeholders that is also the key of the message catalogues
(:mod:`duban.web.messages_zh`), and its parameters. Each face renders it in its reader's
language (``duban.web.i18n.translate(err.text, lang)``); ``str(err)`` is the English::

    raise NotFound("no such revisit")                                   # fixed text
    raise NotFound(Msg("case {case_id} does not exist", case_id=case_id), field="case")

Never an f-string or ``.format()``: ``tests/kernel/test_error_messages.py`` checks that every
template raised is a key of the Chinese catalogue.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


class Msg:
    """A message template (its English, the catalogue key) and the values of its
    placeholders. A value may itself be a :class:`Msg`, a :class:`Name` or a
    :class:`Listing`; values named
    ``status``, ``action``, ``role`` or ``source`` holding a workflow code are shown as
    that code's label."""

    __slots__ = ("params", "template")

    def __init__(self, template: str, /, **params: Any) -> None:
        self.template = template
        self.params: Mapping[str, Any] = params

    def __str__(self) -> str:
        """The English."""
        if not self.params:
            return self.template
        values = {k: str(v) if isinstance(v, Msg) else v for k, v in self.params.items()}
        return self.template.format(**values)

    def __repr__(self) -> str:
        return f"Msg({self.template!r}, **{dict(self.params)!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Msg)
            and other.template == self.template
            and dict(other.params) == dict(self.params)
        )

    def __hash__(self) -> int:
        return hash(self.template)


class Name:
    """A name as the data holds it, in Chinese and (where there is one) in English: a value
    of a :class:`Msg` that each face shows in its reader's language (a unit, a category, a
    region), so that a message names things, not codes. ``str()`` is the English."""

    __slots__ = ("en", "zh")

    def __init__(self, zh: str, en: str | None = None) -> None:
        self.zh = zh
        self.en = en or zh

    def __str__(self) -> str:
        return self.en

    def __repr__(self) -> str:
        return f"Name({self.zh!r}, {self.en!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Name) and (other.zh, other.en) == (self.zh, self.en)

    def __hash__(self) -> int:
        return hash(self.zh)


class Listing:
    """Messages shown one a line (``  - …``) as the value of a :class:`Msg`: the problems of
    a refused file, each rendered in the reader's language. ``str()`` is the English."""

    __slots__ = ("items",)

    def __init__(self, items: Sequence[Msg]) -> None:
        self.items = tuple(items)

    def __str__(self) -> str:
        return "\n".join(f"  - {item}" for item in self.items)

    def __repr__(self) -> str:
        return f"Listing({list(self.items)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Listing) and other.items == self.items

    def __hash__(self) -> int:
        return hash(self.items)


class BadSetting(ValueError):
    """A setting of a policy file that is missing, of the wrong kind or not known:
    ``setting`` is its path in the file (``places.nearby.radius_m``), ``text`` says what it
    must be and what the file holds, as a catalogue message. Raised by the parsers of
    policies; the loader turns it into a :class:`PolicyError`."""

    def __init__(self, setting: str, text: Msg) -> None:
        self.setting = setting
        self.text = text
        super().__init__(str(text))

    def under(self, section: str) -> BadSetting:
        """The same problem, its setting named from ``section`` (``calendar`` + ``periods``)."""
        setting = f"{section}.{self.setting}" if self.setting else section
        return BadSetting(
            setting, Msg(self.text.template, **{**self.text.params, "setting": setting})
        )

    @classmethod
    def wrong(cls, setting: str, must_be: Msg, found: Any) -> BadSetting:
        """``setting`` holds ``found``, which is not ``must_be``."""
        return cls(
            setting,
            Msg(
                "the setting {setting} must be {must_be}, not {found}",
                setting=setting,
                must_be=must_be,
                found=shown_value(found),
            ),
        )

    @classmethod
    def missing(cls, setting: str, must_be: Msg) -> BadSetting:
        """``setting`` is needed and not given."""
        return cls(
            setting,
            Msg(
                "the setting {setting} is missing: it must be {must_be}",
                setting=setting,
                must_be=must_be,
            ),
        )

    @classmethod
    def unknown(cls, setting: str, known: str) -> BadSetting:
        """``setting`` is not one the file may hold there; ``known`` lists those it may."""
        return cls(
            setting,
            Msg(
                "there is no setting {setting}; the settings here are {known}",
                setting=setting,
                known=known,
            ),
        )


def shown_value(value: Any) -> str:
    """A value of a data file as a message quotes it: YAML-like, at most 60 characters."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def cause(err: BaseException) -> Msg:
    """What a library's exception (a missing key, a value of the wrong type) means, as a
    catalogue message: the exception's own English never reaches a reader (it is kept in
    the log and, where useful, in an error's ``detail``)."""
    if isinstance(err, BadSetting):
        return err.text
    if isinstance(err, KeyError) and err.args:
        return Msg("the setting '{name}' is missing", name=str(err.args[0]))
    if isinstance(err, UnicodeDecodeError):
        return Msg("the file is not UTF-8 text")
    if type(err).__module__.partition(".")[0] == "yaml":  # yaml.YAMLError and its kinds
        return Msg("the text is not valid YAML")
    if isinstance(err, json.JSONDecodeError):
        return Msg("the text is not valid JSON")
    if isinstance(err, FileNotFoundError):
        return Msg("the file does not exist")
    if isinstance(err, OSError):
        return Msg("the file cannot be opened")
    return Msg("a value is of the wrong kind or cannot be read")


class DubanError(Exception):
    """Base of every Duban error: ``text`` is what to tell people (a template and its
    values), ``message`` its English, ``detail`` the fields for programs."""

    code = "error"

    def __init__(self, message: str | Msg, /, **detail: Any) -> None:
        self.text = message if isinstance(message, Msg) else Msg(message)
        self.message = str(self.text)
        super().__init__(self.message)
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

    def __init__(
        self, *, status: str, action: str, role: str, reason: str | Msg | None = None
    ) -> None:
        text = Msg(
            "action '{action}' is not allowed for role '{role}' on a case in status '{status}'",
            status=status,
            action=action,
            role=role,
        )
        if reason:
            text = Msg("{refusal}: {reason}", refusal=text, reason=reason)
        super().__init__(text, status=status, action=action, role=role)
        self.status = status
        self.action = action
        self.role = role


class StaleCase(Conflict):
    """Another user changed the case between our read and our write (lost update refused)."""

    code = "stale_case"

    def __init__(self, case_id: int) -> None:
        super().__init__(
            Msg(
                "case {case_id} was changed by someone else at the same time; "
                "reload it and try again",
                case_id=case_id,
            ),
            case_id=case_id,
        )


class InvalidInput(DubanError):
    """The input is malformed or incomplete; ``field`` names what to fix."""

    code = "invalid_input"

    def __init__(self, message: str | Msg, /, *, field: str | None = None, **detail: Any) -> None:
        super().__init__(message, field=field, **detail)
        self.field = field


class PolicyError(InvalidInput):
    """Reference data or configuration is inconsistent."""

    code = "invalid_policy"


class TooManyRequests(DubanError):
    """A rate limit was reached; ``retry_after`` says in how many seconds to try again."""

    code = "too_many_requests"

    def __init__(self, message: str | Msg, /, *, retry_after: int, **detail: Any) -> None:
        super().__init__(message, retry_after=retry_after, **detail)
        self.retry_after = retry_after
