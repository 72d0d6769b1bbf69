"""Where photo files live: a local folder (the default) or an S3-compatible object store,
both behind :class:`duban.kernel.ports.PhotoStore`. Keys are content addresses chosen by
:mod:`duban.evidence.photos` (``ab/<sha256>.<ext>``), the same on both."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from duban.config import Settings


class LocalPhotoStore:
    """Photos as files under a root directory, written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"photo key escapes the store: {key!r}")
        return path

    def put(self, key: str, data: bytes) -> None:
        """Write via a temporary file and rename, so readers never see half a photo."""
        path = self._path(key)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        """Read a stored photo."""
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        """Remove a stored photo (a missing one is not an error)."""
        self._path(key).unlink(missing_ok=True)


class S3PhotoStore:
    """Photos as objects in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, OSS, COS...).

    Keys are content addresses (``ab/<sha256>.jpg``), so ``put`` of a key that exists is a
    no-op by construction and objects never change once written. Credentials come from the
    usual AWS environment (``AWS_ACCESS_KEY_ID``...) or the instance's role.
    """

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        client: Any = None,
    ) -> None:
        import boto3  # deferred: only deployments on S3 pay for the import

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client or boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    def _key(self, key: str) -> str:
        if key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"photo key escapes the store: {key!r}")
        return self.prefix + key

    def put(self, key: str, data: bytes) -> None:
        """Upload ``data`` (one PUT: readers never see half an object)."""
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def get(self, key: str) -> bytes:
        """Download an object; FileNotFoundError if there is none."""
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                raise FileNotFoundError(key) from err
            raise
        body: bytes = answer["Body"].read()
        return body

    def delete(self, key: str) -> None:
        """Remove an object (S3 answers success for a missing one)."""
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))


def photo_store_for(settings: Settings) -> LocalPhotoStore | S3PhotoStore:
    """The store the settings name: ``DUBAN_PHOTO_S3_BUCKET`` set → S3, else the folder."""
    if settings.photo_s3_bucket:
        return S3PhotoStore(
            settings.photo_s3_bucket,
            prefix=settings.photo_s3_prefix,
            endpoint_url=settings.photo_s3_endpoint,
            region=settings.photo_s3_region,
        )
    return LocalPhotoStore(settings.photo_root)
