"""Senders of the notification channels (:class:`~duban.kernel.ports.Sender`):

- :class:`SmtpSender`: email through an SMTP server (stdlib :mod:`smtplib`; plain,
  STARTTLS or implicit TLS, optional login);
- :class:`GatewaySender`: SMS and WeChat template messages through one HTTP gateway — a
  JSON POST to a configured URL (the request and answer are in the README, "Notifications");
- :class:`WebhookSender`: signed webhooks — the JSON event, with
  ``X-Duban-Signature: sha256=HMAC-SHA256(secret, "<timestamp>.<body>")`` and
  ``X-Duban-Timestamp``.

Each turns what went wrong into a :class:`~duban.kernel.ports.DeliveryError` with a
short code kept with the attempt; 4xx answers (but 408 and 429) are permanent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any, Final

from duban.kernel.ports import DeliveryError, Message, Sender

if TYPE_CHECKING:
    from duban.config import Settings

TIMEOUT_SECONDS: Final = 10.0
USER_AGENT: Final = "Duban-Notify/1"


class SmtpSender:
    """Email through an SMTP server."""

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        sender: str,
        security: str = "none",
        username: str | None = None,
        password: str | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.security, self.username, self.password = security, username, password
        self.timeout = timeout

    def send(self, message: Message) -> None:
        """Send ``message`` as a plain-text UTF-8 email to its address."""
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.address
        mail["Subject"] = message.subject
        mail["Message-ID"] = make_msgid(idstring=f"duban-{message.id}")
        mail["X-Duban-Notification"] = str(message.id)
        if message.params.get("unsubscribe"):  # an alert to a public subscriber (RFC 2369)
            mail["List-Unsubscribe"] = f"<{message.params['unsubscribe']}>"
        mail.set_content(message.body)
        try:
            smtp: smtplib.SMTP
            if self.security == "ssl":
                smtp = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as err:
            raise DeliveryError("smtp_refused", str(err)[:300], permanent=True) from err
        except smtplib.SMTPResponseException as err:
            raise DeliveryError(
                f"smtp_{err.smtp_code}",
                str(err.smtp_error)[:300],
                permanent=500 <= err.smtp_code < 600,
            ) from err
        except (OSError, smtplib.SMTPException) as err:
            raise DeliveryError("smtp_unreachable", str(err)[:300]) from err


def _post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return int(answer.status), answer.read(65536)
    except urllib.error.HTTPError as err:
        code = err.code
        permanent = 400 <= code < 500 and code not in (408, 429)
        raise DeliveryError(
            f"http_{code}", err.read(300).decode("utf-8", "replace"), permanent=permanent
        ) from err
    except (OSError, urllib.error.URLError) as err:
        raise DeliveryError("http_unreachable", str(err)[:300]) from err


class GatewaySender:
    """SMS and WeChat template messages through one HTTP gateway (README, "Notifications").

    The request: ``POST <url>`` with ``Authorization: Bearer <token>`` (if set) and the JSON
    ``{"id", "channel": "sms"|"wechat", "to", "template", "locale", "params", "text"}``.
    A 2xx answer with ``{"ok": true}`` (or no body) is delivered; ``{"ok": false,
    "error": "<code>", "permanent": bool}`` or another status is not.
    """

    def __init__(self, url: str, *, token: str | None = None, timeout: float = TIMEOUT_SECONDS):
        self.url, self.token, self.timeout = url, token, timeout

    def send(self, message: Message) -> None:
        """POST ``message`` to the gateway."""
        body = json.dumps(
            {
                "id": message.id,
                "channel": message.channel,
                "to": message.address,
                "template": message.kind,
                "locale": message.locale,
                "params": message.params,
                "text": message.body,
            },
            ensure_ascii=False,
        ).encode()
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        _, answer = _post(self.url, body, headers, self.timeout)
        if not answer.strip():
            return
        try:
            data: Any = json.loads(answer)
        except ValueError as err:
            raise DeliveryError(
                "gateway_bad_answer", answer[:200].decode("utf-8", "replace")
            ) from err
        if isinstance(data, dict) and data.get("ok") is False:
            raise DeliveryError(
                str(data.get("error") or "gateway_refused")[:64],
                str(data.get("message") or ""),
                permanent=bool(data.get("permanent")),
            )


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The webhook signature header's value: ``sha256=`` HMAC of ``"<timestamp>.<body>"``."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookSender:
    """Signed webhooks: POST the case event as JSON to the subscriber's URL."""

    def __init__(
        self, *, timeout: float = TIMEOUT_SECONDS, now: Callable[[], float] = time.time
    ) -> None:
        self.timeout, self.now = timeout, now

    def send(self, message: Message) -> None:
        """POST the event with its signature headers."""
        body = json.dumps({"id": message.id, **message.params}, ensure_ascii=False).encode()
        stamp = int(self.now())
        headers = {
            "X-Duban-Event": str(message.params.get("event", "")),
            "X-Duban-Delivery": str(message.id),
            "X-Duban-Timestamp": str(stamp),
            "X-Duban-Signature": signature(message.secret or "", stamp, body),
        }
        _post(message.address, body, headers, self.timeout)


def senders_for(settings: Settings) -> dict[str, Sender]:
    """The senders the settings configure, by channel (an unconfigured channel has none:
    its messages end as ``channel_not_configured``)."""
    out: dict[str, Sender] = {"webhook": WebhookSender()}
    if settings.smtp_host:
        out["email"] = SmtpSender(
            settings.smtp_host,
            settings.smtp_port,
            sender=settings.smtp_from,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password,
        )
    if settings.gateway_url:
        gateway = GatewaySender(settings.gateway_url, token=settings.gateway_token)
        out["sms"] = gateway
        out["wechat"] = gateway
    return out
