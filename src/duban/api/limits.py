"""Rate limits of the faces (API, web, Open311): the policy's ``limits:`` numbers applied
per IP address, account and client, in this process (see :mod:`duban.kernel.limits`).

Refusals are :class:`~duban.kernel.errors.TooManyRequests`: 429 with ``Retry-After`` on
the API and Open311, an error page with the same status and header on the web.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from duban.kernel.errors import Msg, TooManyRequests
from duban.kernel.limits import FailureDelays, Rate, TokenBuckets, retry_after
from duban.reference.policy import LimitsPolicy

TOO_MANY = "too many requests; try again in {seconds} seconds"
TOO_MANY_FAILURES = "too many failed sign-ins; try again in {seconds} seconds"


def client_ip(request: Request) -> str:
    """The caller's address (the proxy's forwarded one when uvicorn trusts it)."""
    return request.client.host if request.client else "unknown"


def request_lang(request: Request) -> str:
    """``zh`` when the caller's ``Accept-Language`` asks for Chinese first, else ``en``."""
    first = request.headers.get("accept-language", "").split(",")[0].strip().lower()
    return "zh" if first.startswith("zh") else "en"


class RequestLimits:
    """The rate limits of one application (one process)."""

    def __init__(self, policy: LimitsPolicy) -> None:
        self.policy = policy
        self._buckets: dict[str, TokenBuckets] = {}
        self.sign_in_failures = FailureDelays(policy.sign_in_failures)

    def _bucket(self, name: str, rate: Rate) -> TokenBuckets:
        bucket = self._buckets.get(name)
        if bucket is None or bucket.rate != rate:
            bucket = self._buckets[name] = TokenBuckets(rate)
        return bucket

    def take(self, name: str, key: str, lang: str = "en") -> None:
        """Spend one request of limit ``name`` (a :class:`LimitsPolicy` rate field) for
        ``key``; :class:`TooManyRequests` when none is left."""
        rate: Rate = getattr(self.policy, name)
        wait = self._bucket(name, rate).take(key)
        if wait > 0:
            seconds = retry_after(wait)
            raise TooManyRequests(Msg(TOO_MANY, seconds=seconds), retry_after=seconds, limit=name)

    def check_sign_in(self, ip: str, username: str, lang: str = "en") -> None:
        """Before a password is checked: the IP's rate, and the delay the username's
        failed passwords earned (the same for a name that does not exist)."""
        self.take("sign_in_per_ip", ip, lang)
        wait = self.sign_in_failures.wait(username.strip().lower())
        if wait > 0:
            seconds = retry_after(wait)
            raise TooManyRequests(
                Msg(TOO_MANY_FAILURES, seconds=seconds),
                retry_after=seconds,
                limit="sign_in_failures",
            )

    def signed_in(self, username: str, ok: bool) -> None:
        """Record the outcome of a password check for ``username``."""
        key = username.strip().lower()
        if ok:
            self.sign_in_failures.succeeded(key)
        else:
            self.sign_in_failures.failed(key)


def request_limits(app: Any) -> RequestLimits:
    """The application's limits (made from the shipped policy if none were set)."""
    limits: RequestLimits | None = getattr(app.state, "limits", None)
    if limits is None:
        limits = app.state.limits = RequestLimits(LimitsPolicy())
    return limits


def use_policy_limits(app: Any, policy: LimitsPolicy) -> None:
    """Apply the live policy's limits (at start, after the policy is loaded)."""
    current: RequestLimits | None = getattr(app.state, "limits", None)
    if current is None or current.policy != policy:
        app.state.limits = RequestLimits(policy)


def limit_uploads(request: Request, *, user_id: int | None, lang: str = "en") -> None:
    """One photo upload: per account when signed in, and per IP address."""
    limits = request_limits(request.app)
    if user_id is not None:
        limits.take("uploads_per_account", str(user_id), lang)
    limits.take("uploads_per_ip", client_ip(request), lang)


def limit_anonymous_report(request: Request, lang: str = "en") -> None:
    """One report without an account, per IP address."""
    request_limits(request.app).take("anonymous_reports_per_ip", client_ip(request), lang)


def translate(text: str | Msg, lang: str, **values: Any) -> str:
    """``text`` from the message catalogue in ``lang`` (deferred: the web package
    imports this module)."""
    from duban.web.i18n import translate as catalogue

    return catalogue(text, lang, **values)
