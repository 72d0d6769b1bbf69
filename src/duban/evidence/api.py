"""Photo upload and download."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import APIRouter, File, Request, Response, UploadFile

from duban.api.deps import ActorDep, ClockDep, SessionDep, SettingsDep
from duban.api.limits import limit_uploads, request_lang
from duban.cases import photo_for_viewer
from duban.evidence.models import Photo
from duban.evidence.photos import PhotoLimits, save_photo
from duban.evidence.public import thumbnail_bytes
from duban.evidence.schemas import PhotoRead
from duban.kernel.errors import InvalidInput, Msg, NotFound
from duban.reference import load_policy

router = APIRouter(tags=["photos"])


@router.post("/photos", status_code=201, response_model=PhotoRead, summary="Upload a photo")
async def upload(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
    settings: SettingsDep,
    file: UploadFile = File(description="JPEG, PNG, WebP or HEIC"),
) -> PhotoRead:
    """Upload one photo (multipart field ``file``); use its ``id`` in reports and actions."""
    limit_uploads(request, user_id=actor.user_id, lang=request_lang(request))
    data = await file.read(settings.max_photo_bytes + 1)
    if len(data) > settings.max_photo_bytes:
        raise InvalidInput(
            Msg(
                "the photo is larger than the limit of {max_photo_bytes} bytes",
                max_photo_bytes=settings.max_photo_bytes,
            ),
            field="file",
        )
    from starlette.concurrency import run_in_threadpool

    def _save() -> tuple[Photo, ZoneInfo]:
        tz = load_policy(session).tz
        photo = save_photo(
            session,
            actor=actor,
            clock=clock,
            store=request.app.state.photo_store,
            data=data,
            limits=PhotoLimits(settings.max_photo_bytes, settings.max_photo_pixels),
            tz=tz,
        )
        return photo, tz

    photo, tz = await run_in_threadpool(_save)
    return PhotoRead(
        id=photo.id,
        content_type=photo.content_type,
        width=photo.width,
        height=photo.height,
        size_bytes=photo.size_bytes,
        sha256=photo.sha256,
        taken_at=photo.taken_at.astimezone(tz) if photo.taken_at else None,
        gps_lat=photo.gps_lat,
        gps_lon=photo.gps_lon,
        url=f"/api/v1/photos/{photo.id}",
    )


@router.get("/photos/{photo_id}", summary="Download a photo")
def download(photo_id: str, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    """The photo's bytes, for its uploader and for whoever may see a case it is on
    (404 otherwise, as for a photo that does not exist)."""
    photo = photo_for_viewer(session, actor=actor, photo_id=photo_id)
    try:
        data = request.app.state.photo_store.get(photo.storage_key)
    except FileNotFoundError as err:
        raise NotFound(
            Msg("the file of photo {photo_id} is missing from the photo store", photo_id=photo_id)
        ) from err
    return Response(
        content=data,
        media_type=photo.content_type,
        headers={"Cache-Control": "private, max-age=86400"},
    )


@router.get("/photos/{photo_id}/thumbnail", summary="A small copy of a photo")
def thumbnail(photo_id: str, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    """A JPEG at most 320 pixels on its long side, upright and without EXIF (made once);
    for the same callers as the photo."""
    photo = photo_for_viewer(session, actor=actor, photo_id=photo_id)
    try:
        data = thumbnail_bytes(request.app.state.photo_store, photo)
    except FileNotFoundError as err:
        raise NotFound(
            Msg("the file of photo {photo_id} is missing from the photo store", photo_id=photo_id)
        ) from err
    return Response(
        content=data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
    )
