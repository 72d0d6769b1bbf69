"""Where photo files live. Local directory now; an S3-compatible store fits the same port,
:class:`duban.kernel.ports.PhotoStore`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


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
