"""The lazy loader behind every capability's public face (its ``__init__.py``).

A face names what other capabilities may import (``_EXPORTS``: name → defining module)
and loads each name on first use (PEP 562), so importing a face imports nothing and no
import cycle passes through it. mypy reads the face's ``TYPE_CHECKING`` imports instead,
so an unknown name stays a type error.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_face(
    package: str, exports: Mapping[str, str], names: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for the face ``package``; a loaded name is kept in
    the package's namespace, so it is looked up once."""

    def getattr_(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        vars(sys.modules[package])[name] = value
        return value

    def dir_() -> list[str]:
        return sorted([*vars(sys.modules[package]), *names])

    return getattr_, dir_
