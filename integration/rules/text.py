"""Text normalisation for matching: case- and accent-insensitive, HTML and punctuation ignored."""

from __future__ import annotations

import html
import re
import unicodedata

_TAGS = re.compile(r"<[^>]+>")
_BLOCKS = re.compile(r"<(style|script|blockquote|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_LINE_BREAKS = re.compile(r"<\s*(?:br|/p|/div|/li|/tr|/h\d)\b[^>]*>", re.IGNORECASE)
_NON_WORD = re.compile(r"[^a-z0-9]+")


def plain_text(text: str) -> str:
    """HTML to text: styles, scripts and quoted blocks dropped, line breaks kept, entities read."""
    if "<" in text:
        text = _TAGS.sub(" ", _LINE_BREAKS.sub("\n", _BLOCKS.sub(" ", text)))
    return html.unescape(text) if "&" in text else text


def fold(text: str) -> str:
    """Case and accents dropped, punctuation kept: "¿Está CAÍDO?" -> "¿esta caido?"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalize(text: str) -> str:
    """ "¿El Servicio está CAÍDO?" -> "el servicio esta caido"."""
    stripped = fold(html.unescape(_TAGS.sub(" ", text)))
    return _NON_WORD.sub(" ", stripped.replace("ñ", "n")).strip()
