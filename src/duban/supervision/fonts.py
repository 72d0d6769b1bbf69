"""The CJK font embedded in PDF documents: the configured one, else a known Debian file,
else the Noto Sans SC that ships with the ``justmytype-intl-cjk`` wheel (a dependency), so a
fresh machine with only Python still makes PDFs.

Nothing is fetched at run time.
"""

from __future__ import annotations

from importlib import resources
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
    shipped = shipped_font()
    if shipped is not None:
        return shipped, 0
    raise PolicyError(NO_FONT, field="cjk_font")


def shipped_font() -> Path | None:
    """Noto Sans SC (SIL OFL) from the ``justmytype-intl-cjk`` wheel, if it is installed."""
    try:
        files = resources.files("justmytype_intl_cjk")
    except ModuleNotFoundError:
        return None
    path = Path(str(files / "fonts" / "ofl" / "notosanssc" / "NotoSansSC[wght].ttf"))
    return path if path.is_file() else None
