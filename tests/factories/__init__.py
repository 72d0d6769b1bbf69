"""Factories, one module per capability, each a few small functions built on the real use
cases (no rows written behind the code's back):

- :mod:`tests.factories.accounts` — units, users, one user per role (``people``);
- :mod:`tests.factories.places`   — the demo point and a collector's beat;
- :mod:`tests.factories.reference` — the category and filing conditions of the shipped data;
- :mod:`tests.factories.evidence` — JPEG bytes and stored photos;
- :mod:`tests.factories.cases`    — cases reported, acted on, driven to a status, read back.

:class:`tests.factories.world.World` bundles a test's session, clock, people and photo
store so a test can say ``world.case_in(CaseStatus.HANDLING)``; its methods only call the
functions above.
"""

from tests.factories.accounts import PASSWORD, make_unit, make_user
from tests.factories.places import LAT, LON
from tests.factories.reference import CATEGORY
from tests.factories.world import World

# Short-term: the names ``tests/factories.py`` had, for tests being changed on other
# branches at the time of the move. New tests import from the capability modules.
__all__ = ["CATEGORY", "LAT", "LON", "PASSWORD", "World", "make_unit", "make_user"]
