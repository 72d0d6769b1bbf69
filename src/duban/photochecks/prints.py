"""A photo's print: what the checks need from its pixels and metadata, computed once.

Decoding a 12-megapixel JPEG in full takes most of the time budget, and no check needs the
full resolution: JPEGs are decoded at a reduced scale by the decoder itself (``draft``,
1/2 to 1/8 of the DCT), turned upright by their EXIF orientation, then
- a 64-bit perceptual hash (DCT of a 32×32 grey copy) finds the same picture again,
  re-encoded, resized or lightly edited (the *reused* check);
- a second hash of the picture's centre (:data:`CROP_KEEP` of each side), and the same hash
  of the regions that would be that centre if this picture were a crop of another
  (:data:`CROP_PROBES`): a cropped copy of a stored photo shares a band of one of its probes
  with the stored photo's centre hash, where its whole-picture hash has drifted too far;
- ORB keypoints and binary descriptors of an ≈800-pixel grey copy let the *same scene* check
  match an after-photo to a before-photo with a geometric test, without decoding either again;
- the EXIF summary and the JPEG quantisation tables feed the *original* check.

Pure: Pillow, NumPy and OpenCV only.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from typing import Any, Final

import cv2
import imagehash
import numpy as np
from PIL import ExifTags, Image, ImageOps

#: Long side of the grey copy the features are computed on.
FEATURE_SIDE: Final = 800
#: Below this standard deviation of grey levels a picture is one colour (a lens cap, a wall
#: filling the frame): every such picture has the same hash, so reuse is not judged on it.
FLAT_STD: Final = 3.0
#: With fewer keypoints than this a photo has too little detail for the same-scene check.
MIN_FEATURES: Final = 20
#: Features need this many pixels on the short side (ORB's patch is 31 wide, plus a border).
MIN_SIDE: Final = 64
#: At most this many ORB keypoints are kept per photo (each: 8 bytes of position, 32 of descriptor).
MAX_KEYPOINTS: Final = 500

#: Long side of the grey copy the crop hashes are computed on (a hash reads 32×32 pixels).
CROP_SIDE: Final = 256
#: The centre a photo's crop hash covers: this share of each side, centred.
CROP_KEEP: Final = 0.8
#: The crops a later photo is tried as (share of each side kept, and where the crop sat in
#: the original: 0 left/top, 0.5 centred, 1 right/bottom). For each, the probe hash is of
#: the region of the later photo that would be the original's centre. Chosen on the
#: labelled set (bench/calibrate_photochecks.py --copies): the corners and the centre, and
#: the edge midpoints (a crop cut from one side), at 95 to 80 %. The edges and 80 % raised
#: the copies found from 203 to 233 of 289 with the same 1 false match in 374, for 0.6 ms
#: more per look-up on PostgreSQL and 1.2 ms on SQLite at 1,000,000 prints (BENCHMARKS.md).
_ANCHORS: Final = ((0, 0), (1, 0), (0, 1), (1, 1), (0.5, 0.5))
_EDGES: Final = ((0.5, 0), (0.5, 1), (0, 0.5), (1, 0.5))
CROP_PROBES: Final = (
    (1.0, 0.5, 0.5),
    *((keep, ax, ay) for keep in (0.95, 0.9, 0.85, 0.8) for ax, ay in (*_ANCHORS, *_EDGES)),
)

#: The IJG (libjpeg) luminance table at quality 50; encoders scale it for other qualities.
_IJG_LUMA: Final = np.array(
    [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
     14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
     18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
     49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99],
    dtype=np.float64,
)  # fmt: skip


@dataclass(frozen=True)
class Meta:
    """What the *original* and *time*/*place* checks read (all optional: absent in EXIF)."""

    format: str
    width: int  # as stored (before orientation)
    height: int
    has_exif: bool = False
    make: str | None = None
    model: str | None = None
    software: str | None = None
    taken: str | None = None  # EXIF DateTimeOriginal, "YYYY:MM:DD HH:MM:SS", no zone
    modified: str | None = None  # EXIF DateTime (last change)
    exif_width: int | None = None  # PixelXDimension: the size the camera wrote
    exif_height: int | None = None
    orientation: int | None = None
    user_comment: str | None = None
    jpeg_quality: int | None = None  # estimated from the luminance quantisation table
    ijg_tables: bool = False  # the tables are libjpeg's, scaled (what re-encoders write)
    flat: bool = False  # next to no detail (one colour): its hash says nothing

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Meta:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class Print:
    """The print of one photo."""

    phash: int  # unsigned 64 bits
    meta: Meta
    keypoints: np.ndarray = field(repr=False)  # float32, N×2, in the upright FEATURE_SIDE copy
    descriptors: np.ndarray = field(repr=False)  # uint8, N×32
    chash: int | None = None  # unsigned 64 bits: the hash of the centre (CROP_KEEP)
    probes: tuple[int, ...] = ()  # unsigned 64 bits each: one per CROP_PROBES


def bands(phash: int) -> tuple[int, int, int, int]:
    """The hash split into four 16-bit bands (high first). Two hashes within Hamming
    distance 3 share at least one band exactly (pigeonhole): the index looks up candidates
    by band equality, then measures the whole distance."""
    return tuple((phash >> shift) & 0xFFFF for shift in (48, 32, 16, 0))  # type: ignore[return-value]


def to_signed(value: int) -> int:
    """An unsigned 64-bit hash as a signed BIGINT (databases have no unsigned 64 bits)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def hamming(a: int, b: int) -> int:
    return (to_unsigned(a) ^ to_unsigned(b)).bit_count()


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value[:120] or None


def _int(value: object) -> int | None:
    try:
        out = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return None
    return out if 0 < out < 1_000_000 else None


def estimate_quality(quantization: dict[int, list[int]] | None) -> tuple[int | None, bool]:
    """The JPEG quality the luminance table corresponds to (IJG scale), and whether the
    table *is* an IJG table (every entry as libjpeg scales it)."""
    if not quantization or 0 not in quantization:
        return None, False
    table = np.array(quantization[0], dtype=np.float64)
    if table.size != 64:
        return None, False
    # Pillow gives tables in zig-zag order since 8.3? it gives natural order; compare both.
    best: tuple[float, int, bool] = (1e9, 0, False)
    for quality in range(1, 101):
        scale = 5000 / quality if quality < 50 else 200 - 2 * quality
        expect = np.clip(np.floor((_IJG_LUMA * scale + 50) / 100), 1, 255)
        for candidate in (table, _zigzag_to_natural(table)):
            err = float(np.abs(candidate - expect).mean())
            if err < best[0]:
                best = (err, quality, bool(np.array_equal(candidate, expect)))
    return best[1], best[2]


_ZIGZAG: Final = np.array(
    [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48,
     41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23,
     30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63]
)  # fmt: skip


def _zigzag_to_natural(table: np.ndarray) -> np.ndarray:
    out = np.empty(64)
    out[_ZIGZAG] = table
    return out


def read_meta(image: Image.Image) -> Meta:
    """The EXIF summary and quantisation estimate of an opened (not yet decoded) image."""
    width, height = image.size
    fmt = image.format or ""
    try:
        exif = image.getexif()
        sub = exif.get_ifd(ExifTags.IFD.Exif) if exif else {}
    except Exception:  # absurd EXIF must not stop the upload: it is a finding, not an error
        exif, sub = Image.Exif(), {}
    quality, ijg = (None, False)
    if fmt == "JPEG":
        quality, ijg = estimate_quality(getattr(image, "quantization", None))
    return Meta(
        format=fmt,
        width=width,
        height=height,
        has_exif=bool(exif) or bool(sub),
        make=_text(exif.get(ExifTags.Base.Make)),
        model=_text(exif.get(ExifTags.Base.Model)),
        software=_text(exif.get(ExifTags.Base.Software)),
        taken=_text(sub.get(ExifTags.Base.DateTimeOriginal)),
        modified=_text(exif.get(ExifTags.Base.DateTime)),
        exif_width=_int(sub.get(ExifTags.Base.ExifImageWidth)),
        exif_height=_int(sub.get(ExifTags.Base.ExifImageHeight)),
        orientation=_int(exif.get(ExifTags.Base.Orientation)),
        user_comment=_text(sub.get(ExifTags.Base.UserComment)),
        jpeg_quality=quality,
        ijg_tables=ijg,
    )


def small_grey(image: Image.Image, side: int = FEATURE_SIDE) -> Image.Image:
    """``image`` upright, grey, its long side at most ``side``; JPEGs decoded at reduced scale."""
    if image.format == "JPEG":
        w, h = image.size
        factor = max(w, h) / side
        image.draft("L", (max(1, int(w / factor)), max(1, int(h / factor))))
    upright = ImageOps.exif_transpose(image) or image
    grey = upright.convert("L")
    grey.thumbnail((side, side), Image.Resampling.BILINEAR)
    return grey


_ORB: Any = None


def features(grey: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """ORB keypoint positions (float32 N×2) and descriptors (uint8 N×32) of a grey image."""
    global _ORB
    if _ORB is None:
        _ORB = cv2.ORB_create(  # type: ignore[attr-defined]
            nfeatures=MAX_KEYPOINTS, fastThreshold=12
        )
    if min(grey.size) < MIN_SIDE:  # a strip (1×50,000): no room for ORB's patches
        return np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
    pixels = np.asarray(grey, dtype=np.uint8)
    keypoints, descriptors = _ORB.detectAndCompute(pixels, None)
    if descriptors is None or not keypoints:
        return np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
    points = np.array([k.pt for k in keypoints], dtype=np.float32)
    return points, descriptors.astype(np.uint8)


def _dct_matrix(n: int = 32) -> np.ndarray:
    k = np.arange(n)[:, None]
    return np.cos(np.pi * k * (2 * np.arange(n)[None, :] + 1) / (2 * n))


_DCT: Final = _dct_matrix()


def hash_regions(grey: Image.Image, boxes: list[tuple[float, float, float, float]]) -> list[int]:
    """A perceptual hash (pHash: the low 8×8 of the 32×32 DCT against its median) of each
    region of ``grey``, given as shares of its sides (left, top, right, bottom)."""
    w, h = grey.size
    tiles = []
    for left, top, right, bottom in boxes:
        box = (int(left * w), int(top * h), max(int(left * w) + 1, round(right * w)),
               max(int(top * h) + 1, round(bottom * h)))  # fmt: skip
        tile = grey.resize((32, 32), Image.Resampling.LANCZOS, box=box)
        tiles.append(np.asarray(tile, dtype=np.float64))
    if not tiles:
        return []
    low = (_DCT @ np.stack(tiles) @ _DCT.T)[:, :8, :8].reshape(len(tiles), 64)
    bits = low > np.median(low, axis=1, keepdims=True)
    weights = 1 << np.arange(63, -1, -1, dtype=np.uint64)
    return [int((row.astype(np.uint64) * weights).sum(dtype=np.uint64)) for row in bits]


def probe_boxes() -> list[tuple[float, float, float, float]]:
    """For each of :data:`CROP_PROBES`, the region of a later photo that is the original's
    centre if the later photo is that crop of it (clipped to the photo)."""
    lo, hi = (1 - CROP_KEEP) / 2, (1 + CROP_KEEP) / 2
    out = []
    for keep, ax, ay in CROP_PROBES:

        def at(v: float, anchor: float, keep: float = keep) -> float:
            return min(1.0, max(0.0, (v - anchor * (1 - keep)) / keep))

        out.append((at(lo, ax), at(lo, ay), at(hi, ax), at(hi, ay)))
    return out


def crop_hashes(grey: Image.Image) -> tuple[int, tuple[int, ...]]:
    """The centre hash of a picture and its probe hashes (see :data:`CROP_PROBES`)."""
    small = grey.copy()
    small.thumbnail((CROP_SIDE, CROP_SIDE), Image.Resampling.BILINEAR)
    lo, hi = (1 - CROP_KEEP) / 2, (1 + CROP_KEEP) / 2
    hashes = hash_regions(small, [(lo, lo, hi, hi), *probe_boxes()])
    return hashes[0], tuple(hashes[1:])


def pack_hashes(values: tuple[int, ...]) -> bytes:
    return np.array(values, dtype=np.uint64).tobytes()


def unpack_hashes(data: bytes | None) -> tuple[int, ...]:
    return tuple(int(v) for v in np.frombuffer(data or b"", dtype=np.uint64))


def take_print(data: bytes) -> Print:
    """The print of a photo's bytes (already checked by the upload: format, limits, complete)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as image:
            meta = read_meta(image)
            grey = small_grey(image)
    phash = int(str(imagehash.phash(grey)), 16)
    points, descriptors = features(grey)
    chash: int | None = None
    probes: tuple[int, ...] = ()
    if float(np.asarray(grey, dtype=np.float32).std()) < FLAT_STD:
        meta = Meta(**{**meta.__dict__, "flat": True})
    elif min(grey.size) >= MIN_SIDE:  # a strip has no centre worth a hash
        chash, probes = crop_hashes(grey)
    return Print(
        phash=phash,
        meta=meta,
        keypoints=points,
        descriptors=descriptors,
        chash=chash,
        probes=probes,
    )


def pack(array: np.ndarray) -> bytes:
    return array.tobytes()


def unpack_points(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.float32).reshape(-1, 2)


def unpack_descriptors(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8).reshape(-1, 32)


@dataclass(frozen=True)
class SceneMatch:
    """How well an after-photo matches a before-photo: ratio-test matches and the inliers
    of the homography RANSAC fits to them (the geometric check)."""

    matches: int
    inliers: int


def match_scene(
    a_points: np.ndarray,
    a_desc: np.ndarray,
    b_points: np.ndarray,
    b_desc: np.ndarray,
    *,
    ratio: float = 0.8,
    reprojection: float = 6.0,
) -> SceneMatch:
    """Match two prints' ORB features (Lowe's ratio test), then count the pairs a single
    homography explains (RANSAC). A small change of standpoint, zoom or light keeps many
    inliers; another scene keeps a handful by chance."""
    if len(a_desc) < 2 or len(b_desc) < 2:
        return SceneMatch(0, 0)
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(a_desc, b_desc, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < ratio * p[1].distance]
    if len(good) < 4:
        return SceneMatch(len(good), 0)
    src = a_points[[m.queryIdx for m in good]].reshape(-1, 1, 2)
    dst = b_points[[m.trainIdx for m in good]].reshape(-1, 1, 2)
    _, mask = cv2.findHomography(src, dst, cv2.RANSAC, reprojection)
    inliers = int(mask.sum()) if mask is not None else 0
    return SceneMatch(len(good), inliers)


@dataclass(frozen=True)
class CopyMatch:
    """How well one picture is a copy of another (cropped, scaled, re-encoded): the matches
    a similarity transform (shift, uniform scale, rotation) explains to within a pixel or
    two, and that transform's rotation. The same pixels cropped or resized fit it almost
    perfectly and unrotated; a new photo of the same place, taken by hand from nearly the
    same standpoint, has parallax and a tilt, and fits it far worse."""

    matches: int
    inliers: int
    rotation: float  # degrees

    def is_copy(self, *, min_inliers: int, min_share: float, max_rotation: float) -> bool:
        return (
            self.inliers >= min_inliers
            and self.inliers >= min_share * max(1, self.matches)
            and abs(self.rotation) <= max_rotation
        )


def match_copy(
    a_points: np.ndarray,
    a_desc: np.ndarray,
    b_points: np.ndarray,
    b_desc: np.ndarray,
    *,
    ratio: float = 0.8,
    reprojection: float = 1.5,
) -> CopyMatch:
    """Match two prints' ORB features and fit a similarity transform (RANSAC, tight)."""
    if len(a_desc) < 2 or len(b_desc) < 2:
        return CopyMatch(0, 0, 0.0)
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(a_desc, b_desc, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < ratio * p[1].distance]
    if len(good) < 4:
        return CopyMatch(len(good), 0, 0.0)
    src = a_points[[m.queryIdx for m in good]].reshape(-1, 1, 2)
    dst = b_points[[m.trainIdx for m in good]].reshape(-1, 1, 2)
    transform, mask = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=reprojection
    )
    if transform is None or mask is None:
        return CopyMatch(len(good), 0, 0.0)
    rotation = float(np.degrees(np.arctan2(transform[1, 0], transform[0, 0])))
    return CopyMatch(len(good), int(mask.sum()), rotation)
