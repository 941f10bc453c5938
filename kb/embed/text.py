"""What every encoder backend does to a text before it reads it."""

from __future__ import annotations


def clean_for_encoder(text: str) -> str:
    """Encoders truncate at NUL and reject lone surrogates; neither carries meaning."""
    text = text.replace("\x00", " ")
    return text.encode("utf-8", errors="replace").decode("utf-8")
