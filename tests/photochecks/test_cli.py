"""``duban photos backfill-prints``: photos from before the checks get their prints."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, delete

from duban.evidence.models import Photo
from duban.photochecks.models import PhotoPrint
from tests.commands import count, run
from tests.factories.photochecks import phone_jpeg, scene
from tests.factories.world import World
from tests.photochecks.test_checks import upload


def test_backfill_prints_old_photos_and_skips_missing_files(
    world: World, db_url: str, engine: Engine, tmp_path: Path
) -> None:
    kept = upload(world, phone_jpeg(scene("coffee")))
    lost = upload(world, phone_jpeg(scene("rocket")))
    world.session.execute(delete(PhotoPrint))  # as if uploaded before the checks existed
    world.session.commit()
    photo = world.session.get(Photo, lost)
    assert photo is not None
    assert world.store is not None
    world.store.delete(photo.storage_key)
    result = run(
        db_url, tmp_path, "photos", "backfill-prints", DUBAN_PHOTO_DIR=str(world.store.root)
    )
    assert result.exit_code == 0, result.output
    assert "printed 1 photos" in result.output
    assert count(engine, PhotoPrint, PhotoPrint.photo_id == kept) == 1
    assert count(engine, PhotoPrint, PhotoPrint.photo_id == lost) == 0


def test_backfill_gives_older_prints_their_centre_hash(
    world: World, db_url: str, engine: Engine, tmp_path: Path
) -> None:
    from sqlalchemy import update

    pid = upload(world, phone_jpeg(scene("coffee")))
    world.session.execute(  # printed before the crop probes existed (migration 0020)
        update(PhotoPrint).values(chash=None, cband0=None, cband1=None, cband2=None,
                                  cband3=None, probes=None)
    )  # fmt: skip
    world.session.commit()
    assert world.store is not None
    result = run(
        db_url, tmp_path, "photos", "backfill-prints", DUBAN_PHOTO_DIR=str(world.store.root)
    )
    assert "printed 1 photos" in result.output
    assert count(engine, PhotoPrint, PhotoPrint.photo_id == pid, PhotoPrint.chash.is_not(None)) == 1
    again = run(
        db_url, tmp_path, "photos", "backfill-prints", DUBAN_PHOTO_DIR=str(world.store.root)
    )
    assert "printed 0 photos" in again.output
