"""Reading posted forms: text fields, numbers, local times, uploaded photos, field errors.

Validation rules stay in the services; this module only turns form text into the
primitives the services take and collects every problem under the name of the form
field it belongs to, so a page can show each message next to its field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from duban.evidence.photos import PhotoLimits, save_photo
from duban.kernel.context import Actor, Clock
from duban.kernel.errors import InvalidInput, Msg
from duban.kernel.ports import PhotoStore
from duban.places.coords import to_wgs84
from duban.web.i18n import translate as translate  # pages call forms.translate

if TYPE_CHECKING:
    from duban.web.context import WebContext

#: Service field names → the form field showing the message.
FIELD_OF: dict[str, str] = {
    "photo_ids": "photos",
    "file": "photos",
    "category_code": "category",
    "condition_code": "condition",
    "helper_units": "helper_units",
    "lat": "location",
    "lon": "location",
    "reporter_phone": "phone",
    "reporter_name": "name",
    "hotline_ticket": "ticket",
}


@dataclass
class FieldErrors:
    """Messages by form field."""

    lang: str
    messages: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, text: str) -> None:
        """Record a message (already in the page's language) for a field."""
        self.messages.setdefault(name, text)

    def add_error(self, err: InvalidInput, default_field: str = "form") -> None:
        """Record a service's :class:`InvalidInput` under its form field."""
        name = FIELD_OF.get(err.field or "", err.field or default_field)
        self.add(name, translate(err.text, self.lang))

    def __bool__(self) -> bool:
        return bool(self.messages)


def text(form: FormData, name: str, limit: int = 10_000) -> str:
    """A text field, stripped; at most ``limit`` characters are kept for checking."""
    value = form.get(name)
    return value.strip()[: limit + 1] if isinstance(value, str) else ""


def texts(form: FormData, name: str) -> list[str]:
    """A multi-valued text field, blanks dropped."""
    return [v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()]


def number(form: FormData, name: str, errors: FieldErrors, *, label: str) -> float | None:
    """A decimal number, or None when blank (a message when it is not a number)."""
    raw = text(form, name, 40)
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        errors.add(name, translate("{label} must be a number.", errors.lang, label=label))
        return None


def ids(form: FormData, name: str) -> list[int]:
    """Ticked case ids of a batch form."""
    return [int(v) for v in texts(form, name) if v.isdigit()]


def local_datetime(form: FormData, name: str, tz: ZoneInfo, errors: FieldErrors) -> datetime | None:
    """A ``datetime-local`` field read in the city's zone."""
    raw = text(form, name, 40)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        errors.add(name, translate("Enter a date and time.", errors.lang))
        return None
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def location(form: FormData, errors: FieldErrors) -> tuple[float, float] | None:
    """``lat``/``lon`` in the ``crs`` the map or phone gave, converted to WGS84."""
    lat = number(form, "lat", errors, label="lat")
    lon = number(form, "lon", errors, label="lon")
    if lat is None or lon is None:
        errors.add("location", translate("Mark the place on the map or use GPS.", errors.lang))
        return None
    crs = text(form, "crs", 20) or "wgs84"
    try:
        wlon, wlat = to_wgs84(lon, lat, crs)
    except ValueError:
        errors.add("location", translate("The location is out of range.", errors.lang))
        return None
    return wlat, wlon


def uploads(form: FormData, name: str = "photos") -> list[UploadFile]:
    """Files actually chosen in a file field (browsers send an empty part otherwise)."""
    return [f for f in form.getlist(name) if isinstance(f, UploadFile) and f.filename]


def save_uploads(
    db: Session,
    files: list[UploadFile],
    *,
    actor: Actor,
    clock: Clock,
    store: PhotoStore,
    limits: PhotoLimits,
    tz: ZoneInfo,
    errors: FieldErrors,
    name: str = "photos",
) -> list[str]:
    """Store uploaded photos through the photo use case; their ids, or messages."""
    saved: list[str] = []
    for upload in files:
        data = upload.file.read(limits.max_bytes + 1)
        try:
            photo = save_photo(
                db,
                actor=actor,
                clock=clock,
                store=store,
                data=data,
                limits=limits,
                tz=tz,
            )
        except InvalidInput as err:
            errors.add(name, f"{upload.filename}: {translate(err.text, errors.lang)}")
            continue
        saved.append(photo.id)
    return saved


def answer_photos(ctx: WebContext, form: FormData, *, actor: Actor) -> list[str]:
    """The photos of an answer form (field ``photos``), stored through the photo use case
    with the size and pixel limits; their ids. A refused photo refuses the answer: none
    is kept."""
    from duban.reference import load_policy

    db = ctx.db
    errors = FieldErrors(ctx.lang)
    photo_ids = save_uploads(
        db, uploads(form), actor=actor, clock=ctx.clock, store=ctx.request.app.state.photo_store,
        limits=PhotoLimits(ctx.settings.max_photo_bytes, ctx.settings.max_photo_pixels),
        tz=load_policy(db).tz, errors=errors,
    )  # fmt: skip
    if errors:
        db.rollback()  # the photos of a refused answer are not kept
        raise InvalidInput(
            Msg("The photos were refused: {errors}", errors="; ".join(errors.messages.values())),
            field="photos",
        )
    return photo_ids
