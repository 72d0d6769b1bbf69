"""Real photographs (scikit-image's sample data) as phone JPEGs with EXIF, and the
transforms of the labelled set: crops, rotations, perspective, light, zoom."""

from __future__ import annotations

import functools
import io

import numpy as np
from PIL import ExifTags, Image, ImageEnhance

#: Photographs of real scenes shipped with scikit-image (colour or grey).
SCENES = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "camera",
    "brick",
    "grass",
    "gravel",
    "immunohistochemistry",
    "hubble_deep_field",
    "page",
    "text",
    "moon",
    "motorcycle",
    "clock",
    "coins",
    "retina",
)  # not "cat": the same photograph as "chelsea"


@functools.cache
def scene(name: str) -> Image.Image:
    """A sample photograph as an RGB image (stereo pairs give their left view)."""
    from skimage import data

    pixels = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    if pixels.dtype != np.uint8:
        pixels = (255 * (pixels - pixels.min()) / max(1e-9, np.ptp(pixels))).astype(np.uint8)
    image = Image.fromarray(pixels)
    return image.convert("RGB")


def phone_exif(
    *,
    taken: str | None = "2026:11:23 09:00:00",
    gps: tuple[float, float] | None = None,
    make: str | None = "Duban",
    model: str | None = "TestCam 1",
    software: str | None = None,
    size: tuple[int, int] | None = None,
) -> Image.Exif:
    """EXIF as a phone writes it: device, capture time (city time), size, GPS. The default
    device is one the camera table (``cameras`` in data/photochecks.yaml) does not know:
    the test photographs are far smaller than any phone's, and would all be "resized"."""
    exif = Image.Exif()
    if make:
        exif[ExifTags.Base.Make] = make
    if model:
        exif[ExifTags.Base.Model] = model
    if software:
        exif[ExifTags.Base.Software] = software
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    if taken:
        sub[ExifTags.Base.DateTimeOriginal] = taken
        exif[ExifTags.Base.DateTime] = taken
    if size:
        sub[ExifTags.Base.ExifImageWidth] = size[0]
        sub[ExifTags.Base.ExifImageHeight] = size[1]
    if gps:
        g = exif.get_ifd(ExifTags.IFD.GPSInfo)
        lat, lon = gps
        g[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
        g[ExifTags.GPS.GPSLatitude] = _dms(abs(lat))
        g[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
        g[ExifTags.GPS.GPSLongitude] = _dms(abs(lon))
    return exif


def _dms(value: float) -> tuple[float, float, float]:
    d = int(value)
    m = int((value - d) * 60)
    s = round((value - d - m / 60) * 3600, 4)
    return (float(d), float(m), s)


def to_jpeg(image: Image.Image, exif: Image.Exif | None = None, quality: int = 92) -> bytes:
    out = io.BytesIO()
    if exif is not None:
        image.save(out, "JPEG", quality=quality, exif=exif)
    else:
        image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def phone_jpeg(image: Image.Image, quality: int = 92, **exif: object) -> bytes:
    """``image`` as a phone JPEG: EXIF with the device, time, its own size and GPS."""
    return to_jpeg(image, phone_exif(size=image.size, **exif), quality)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- transforms


def crop(image: Image.Image, keep: float = 0.8, shift: float = 0.1) -> Image.Image:
    w, h = image.size
    x, y = int(w * shift), int(h * shift)
    return image.crop((x, y, x + int(w * keep), y + int(h * keep)))


def rotate(image: Image.Image, degrees: float) -> Image.Image:
    return image.rotate(degrees, resample=Image.Resampling.BILINEAR, expand=False)


def light(image: Image.Image, factor: float) -> Image.Image:
    return ImageEnhance.Brightness(image).enhance(factor)


def zoom(image: Image.Image, factor: float) -> Image.Image:
    w, h = image.size
    return crop(image, 1 / factor, (1 - 1 / factor) / 2).resize((w, h))


def perspective(image: Image.Image, amount: float = 0.08) -> Image.Image:
    """A small change of standpoint: the far edge shrinks by ``amount`` of the width."""
    import cv2

    w, h = image.size
    d = amount * w
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[d, d / 2], [w - d, 0], [w, h], [0, h - d / 2]])
    matrix = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(np.asarray(image), matrix, (w, h))
    return Image.fromarray(warped)


#: The positives of the labelled set: the same scene seen again.
POSITIVES = {
    "crop": lambda im: crop(im, 0.8, 0.1),
    "crop_half": lambda im: crop(im, 0.6, 0.2),
    "rotate_5": lambda im: rotate(im, 5),
    "rotate_15": lambda im: rotate(im, 15),
    "perspective": lambda im: perspective(im, 0.08),
    "perspective_strong": lambda im: perspective(im, 0.15),
    "darker": lambda im: light(im, 0.55),
    "brighter": lambda im: light(im, 1.5),
    "zoom": lambda im: zoom(im, 1.3),
    "mixed": lambda im: light(rotate(perspective(crop(im, 0.85, 0.05), 0.06), 4), 0.7),
}
