"""Chinese first, English switchable.

Texts are written in English in the code and the templates (``_("Sign in")``) and looked
up here for Chinese (and for English where the key is not what a reader should see:
:mod:`duban.web.messages_en`); a test checks that every text used has its Chinese. Labels of
statuses, actions, roles and sources come from :mod:`duban.cases.workflow`, the one
mapping of those. ``{name}`` placeholders are filled after translation.

Domain errors carry their message as a template and its values (``err.text``, a
:class:`~duban.kernel.errors.Msg`); the API and the pages render it with :func:`translate`,
never by reading the formatted English back.
"""

from __future__ import annotations

from typing import Any

from duban.cases.workflow import (
    ACTION_LABELS,
    SOURCE_LABELS,
    STATUS_LABELS,
    Action,
    CaseStatus,
    Source,
)
from duban.kernel.errors import Listing, Msg, Name
from duban.kernel.roles import ROLE_LABELS, Role
from duban.web.messages_en import EN
from duban.web.messages_zh import ZH


def translate(text: str | Msg, lang: str, **values: Any) -> str:
    """``text`` in ``lang`` (``zh``, ``en``, or ``api``: the API's English, the template as
    written, which names fields, paths and headers for the program's author), with
    ``values`` filled in.

    ``text`` is a catalogue key (its English) or a :class:`~duban.kernel.errors.Msg`, the
    template and values a domain error carries. A value that is itself a ``Msg`` is
    translated in its turn; a workflow code given as ``status``, ``action``, ``role`` or
    ``source`` is shown as its label."""
    if isinstance(text, Msg):
        values = {**text.params, **values}
        text = text.template
    # "api": the template itself, the English a program's author reads
    catalogue = ZH if lang == "zh" else EN if lang == "en" else {}
    out = catalogue.get(text, text)
    if not values:
        return out
    return out.format(**{k: _value(k, v, lang) for k, v in values.items()})


def _value(name: str, value: Any, lang: str) -> Any:
    """A placeholder's value as people read it in ``lang``."""
    if isinstance(value, Msg):
        return translate(value, lang)
    if isinstance(value, Name):
        return value.zh if lang == "zh" else value.en
    if isinstance(value, Listing):
        return "\n".join(f"  - {translate(item, lang)}" for item in value.items)
    if name in _LISTS and isinstance(value, str) and lang == "zh":
        return "、".join(_value(_LISTS[name], v.strip(), lang) for v in value.split(","))
    labels = _LABELS.get(name)
    if labels is not None and isinstance(value, str):
        try:
            pair = labels[1][labels[0](value)]
        except (ValueError, KeyError):
            return value
        return pair[0] if lang == "zh" else value
    return value


#: Values that list codes, comma-separated: each shown as its label.
_LISTS: dict[str, str] = {"statuses": "status", "actions": "action", "roles": "role"}
_LABELS: dict[str, tuple[Any, Any]] = {
    "status": (CaseStatus, STATUS_LABELS),
    "action": (Action, ACTION_LABELS),
    "role": (Role, ROLE_LABELS),
    "source": (Source, SOURCE_LABELS),
}
