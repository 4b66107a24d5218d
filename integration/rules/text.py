"""Text normalisation for matching: case- and accent-insensitive, HTML and punctuation ignored."""

from __future__ import annotations

import html
import re
import unicodedata

_TAGS = re.compile(r"<[^>]+>")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def normalize(text: str) -> str:
    """ "¿El Servicio está CAÍDO?" -> "el servicio esta caido"."""
    text = html.unescape(_TAGS.sub(" ", text))
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NON_WORD.sub(" ", stripped.replace("ñ", "n")).strip()
