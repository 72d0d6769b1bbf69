"""Chinese first, English switchable.

Texts are written in English in the code and the templates (``_("Sign in")``) and looked
up here for Chinese; a test checks that every text used has its Chinese. Labels of
statuses, actions, roles and sources come from :mod:`duban.cases.workflow`, the one
mapping of those. ``{name}`` placeholders are filled after translation.
"""

from __future__ import annotations

from typing import Any

from duban.web.messages_zh import ZH


def translate(text: str, lang: str, **values: Any) -> str:
    """``text`` in ``lang`` (``zh`` or ``en``), with ``values`` filled in."""
    out = text if lang == "en" else ZH.get(text, text)
    return out.format(**values) if values else out
