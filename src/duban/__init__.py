"""Duban (督办): city-management supervision.

Report, file, dispatch, fix, check, close, evaluate.
"""

__version__ = "0.1.0"
