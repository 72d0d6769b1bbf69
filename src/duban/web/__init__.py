"""The web front end: server-rendered pages (Jinja2 + htmx) over the same services as the API.

Citizens report without an account (随手拍) and follow their report with a tracking code;
every role has a workbench; leaders have the one map (一张图) and a dashboard; admins keep
the reference data. Chinese first, English switchable; usable at phone width; nothing
loaded from a CDN (front-end packages are vendored under ``static/vendor``).
"""

from __future__ import annotations

from duban.web.routes import STATIC_DIR, install_web

__all__ = ["STATIC_DIR", "install_web"]
