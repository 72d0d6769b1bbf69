"""Exchange with a higher platform (issue 15, 上级平台): a district's Duban takes the
city's cases for it and sends its results back, over the city's Open311 endpoint.

This is the capability's public face: other capabilities import from here, never
from its modules. Names load on first use (PEP 562), so importing the face imports
nothing and no import cycle passes through it. To offer a name, add it to the
TYPE_CHECKING imports, _EXPORTS and __all__ (docs/architecture.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from duban.kernel.faces import lazy_face

if TYPE_CHECKING:
    from duban.exchange.models import ExchangeCase, ExchangeLink, ExchangePush
    from duban.exchange.service import (
        ExchangeReport,
        LinkSpec,
        list_links,
        run_exchange,
        save_link,
    )

_EXPORTS: dict[str, str] = {
    "ExchangeCase": "duban.exchange.models",
    "ExchangeLink": "duban.exchange.models",
    "ExchangePush": "duban.exchange.models",
    "ExchangeReport": "duban.exchange.service",
    "LinkSpec": "duban.exchange.service",
    "list_links": "duban.exchange.service",
    "run_exchange": "duban.exchange.service",
    "save_link": "duban.exchange.service",
}

__all__ = [
    "ExchangeCase",
    "ExchangeLink",
    "ExchangePush",
    "ExchangeReport",
    "LinkSpec",
    "list_links",
    "run_exchange",
    "save_link",
]

if not TYPE_CHECKING:  # mypy reads the imports above; an unknown name stays an error
    __getattr__, __dir__ = lazy_face(__name__, _EXPORTS, __all__)
