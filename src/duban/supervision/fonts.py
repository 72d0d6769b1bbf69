"""The CJK font embedded in PDF documents: the configured one, else a known Debian file.

Nothing is fetched at run time: the font is installed (``fonts-wqy-microhei``, or
``fonts-noto-cjk``) or named by ``DUBAN_CJK_FONT``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from duban.kernel.errors import PolicyError

#: Known places of free CJK fonts, best first: (file, font number in a collection).
#: WenQuanYi Micro Hei has TrueType outlines, which every PDF viewer embeds well.
KNOWN_FONTS: Final[tuple[tuple[str, int], ...]] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),  # Noto Serif CJK SC
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # Noto Sans CJK SC
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
)

NO_FONT = (
    "no CJK font is installed for PDF documents: install the Debian package "
    "fonts-wqy-microhei (or fonts-noto-cjk), or set DUBAN_CJK_FONT to a .ttf or .ttc file"
)
BAD_FONT = "DUBAN_CJK_FONT does not name a readable .ttf, .ttc or .otf file"


def find_cjk_font(configured: Path | None = None) -> tuple[Path, int]:
    """The font file to embed and its number in a collection (PolicyError if none)."""
    if configured is not None:
        if configured.is_file() and configured.suffix.lower() in (".ttf", ".ttc", ".otf"):
            return configured, 0
        raise PolicyError(BAD_FONT, field="cjk_font", path=str(configured))
    for name, number in KNOWN_FONTS:
        path = Path(name)
        if path.is_file():
            return path, number
    raise PolicyError(NO_FONT, field="cjk_font")
