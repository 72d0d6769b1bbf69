"""Forms sent after the sign-in expired: kept, so the person signs in again and carries on.

A handler writes a feedback note on site, takes the after-photos, and sends — twelve
hours after signing in. The session has expired, so the form's CSRF token no longer
matches and the form used to be lost ("表单已过期"). Now, when the cookie is a real
(signed) session whose sign-in has merely expired and the form carries that session's
own CSRF token, a form of a resumable page (:data:`RESUMABLE`) is stashed in the photo
store under a random token: its text fields and its files. The browser is sent to sign
in again and then to :data:`RESUME_URL`, where the same user (and only that user) sends
it — through the page's own handler, with every check it makes — or discards it.

A stash lives at most :data:`MAX_AGE_SECONDS`; it is deleted when sent or discarded.
"""

from __future__ import annotations

import io
import json
import re
import secrets
from dataclasses import dataclass
from typing import Final

from starlette.datastructures import FormData, Headers, UploadFile

from duban.kernel.ports import PhotoStore
from duban.web import sessions

#: The pages whose forms are kept across an expired sign-in (the case actions: a
#: handler's feedback, a collector's verify or check, a dispatcher's dispatch...).
RESUMABLE: Final = (re.compile(r"/cases/(?P<case_id>\d+)/act/(?P<action>[a-z_]+)"),)
#: Where the person goes after signing in again.
RESUME_URL: Final = "/resume/{token}"
MAX_AGE_SECONDS: Final = 24 * 3600
MAX_FILES: Final = 20
_PREFIX: Final = "pending-forms"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{24}")


@dataclass(frozen=True)
class PendingFile:
    field: str
    filename: str
    content_type: str
    key: str


@dataclass(frozen=True)
class PendingForm:
    """A form kept for ``user_id``: where it was sent, its fields and files."""

    token: str
    path: str
    user_id: int
    created_at: int
    fields: tuple[tuple[str, str], ...]
    files: tuple[PendingFile, ...]

    def field(self, name: str) -> str:
        return next((v for k, v in self.fields if k == name), "")

    def match(self) -> re.Match[str] | None:
        return next((m for p in RESUMABLE if (m := p.fullmatch(self.path))), None)


def is_resumable(path: str) -> bool:
    return any(p.fullmatch(path) for p in RESUMABLE)


def expired_sign_in(
    cookie: str | None, sent_csrf: str | None, *, secret: str, now: int, max_age: int
) -> sessions.WebSession | None:
    """The session of ``cookie`` if it is genuine, its sign-in has expired, and the form
    carries its own CSRF token (so the form came from this site, from that session)."""
    found = sessions.decode(cookie, secret)
    if found is None or not sessions.is_expired(found, now=now, max_age=max_age):
        return None
    return found if sessions.csrf_ok(found, sent_csrf) else None


async def stash(
    store: PhotoStore, form: FormData, *, path: str, user_id: int, now: int, max_file_bytes: int
) -> str:
    """Keep ``form`` for ``user_id``; the token to resume it with. Files over
    ``max_file_bytes`` are not kept (the page would refuse them anyway)."""
    token = secrets.token_urlsafe(18)
    fields: list[tuple[str, str]] = []
    files: list[dict[str, str]] = []
    for name, value in form.multi_items():
        if isinstance(value, str):
            if name != sessions.CSRF_FIELD:
                fields.append((name, value))
            continue
        if not value.filename or len(files) >= MAX_FILES:
            continue
        data = await value.read(max_file_bytes + 1)
        if len(data) > max_file_bytes:
            continue
        key = f"{_PREFIX}/{token}/{len(files)}"
        store.put(key, data)
        files.append(
            {
                "field": name,
                "filename": value.filename[:200],
                "content_type": value.content_type or "application/octet-stream",
                "key": key,
            }
        )
    body = {"path": path, "user": user_id, "at": now, "fields": fields, "files": files}
    store.put(f"{_PREFIX}/{token}/form.json", json.dumps(body, ensure_ascii=False).encode())
    return token


def load(store: PhotoStore, token: str, *, user_id: int, now: int) -> PendingForm | None:
    """The form kept under ``token`` for ``user_id``, if it is there and not too old."""
    if not _TOKEN.fullmatch(token):
        return None
    try:
        body = json.loads(store.get(f"{_PREFIX}/{token}/form.json"))
    except (FileNotFoundError, ValueError):
        return None
    if body.get("user") != user_id or now - int(body.get("at", 0)) > MAX_AGE_SECONDS:
        return None
    return PendingForm(
        token=token,
        path=str(body["path"]),
        user_id=user_id,
        created_at=int(body["at"]),
        fields=tuple((str(k), str(v)) for k, v in body["fields"]),
        files=tuple(PendingFile(**f) for f in body["files"]),
    )


def as_form(store: PhotoStore, pending: PendingForm) -> FormData:
    """The kept form as the page's handler reads a posted one."""
    items: list[tuple[str, str | UploadFile]] = list(pending.fields)
    for f in pending.files:
        items.append(
            (
                f.field,
                UploadFile(
                    io.BytesIO(store.get(f.key)),
                    filename=f.filename,
                    headers=Headers({"content-type": f.content_type}),
                ),
            )
        )
    return FormData(items)


def discard(store: PhotoStore, pending: PendingForm) -> None:
    """Delete a kept form and its files."""
    for f in pending.files:
        store.delete(f.key)
    store.delete(f"{_PREFIX}/{pending.token}/form.json")
