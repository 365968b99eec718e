"""Text as it enters from files and config: one normal form for names and periods."""

from __future__ import annotations

import re
import unicodedata

# Invisible characters a copy from a web page or Excel leaves in cells (NFKC keeps them).
INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"))
_SPACES = re.compile(r"\s+")
# Chinese tables pad names for alignment (黄　岛): spaces beside a CJK character go.
_CJK = "\u2e80-\u9fff\uf900-\ufaff"
_PADDING = re.compile(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")


def clean_text(text: str) -> str:
    """Text as typed, without width variants, invisible characters or outer spaces."""
    return unicodedata.normalize("NFKC", text).translate(INVISIBLE).strip()


def name_key(text: str) -> str:
    """What two names share when they are the same name as typed.

    Widths, invisible characters and outer spaces aside, a run of spaces is one space,
    and none beside a Chinese character.
    """
    return _SPACES.sub(" ", _PADDING.sub("", clean_text(text)))
