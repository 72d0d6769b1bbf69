"""The demo (``duban demo``): a city to try Duban on.

:mod:`~duban.demo.install` creates the units, one user per role and cases in every stage
through the ordinary use cases; :mod:`~duban.demo.places` draws (or reads) the places.
"""

from __future__ import annotations

from duban.demo.install import DemoReport, install_demo

__all__ = ["DemoReport", "install_demo"]
