"""The API fixtures, for the calendar's API face tested here beside its rules."""

from tests.api.conftest import api, app, client, settings, world

__all__ = ["api", "app", "client", "settings", "world"]
