"""Text crossing the terminal: what a person typed in, and document text on its way out."""

from __future__ import annotations

import codecs
import re


def _latin1_or_replace(exc: UnicodeDecodeError) -> tuple[str, int]:
    """Bytes that are not UTF-8: a letter typed on a Latin-1 terminal (ø is 0xf8) reads as that
    letter; an encoded lone surrogate (what a shell makes of \\ud800) and anything else as U+FFFD."""
    data, i = exc.object, exc.start
    if data[i] == 0xED and i + 2 < len(data) and 0xA0 <= data[i + 1] <= 0xBF:
        return "\ufffd", i + 3
    return (chr(data[i]) if data[i] >= 0xA0 else "\ufffd"), i + 1


codecs.register_error("kb-typed-text", _latin1_or_replace)
_SURROGATE = re.compile("[\ud800-\udfff]")


def argument_text(text: str) -> str:
    """A command-line argument as valid Unicode. Python hands over bytes that were not UTF-8 as
    surrogate escapes (0xf8 becomes \\udcf8); written out as they are, they break UTF-8 output."""
    if not _SURROGATE.search(text):
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a real lone surrogate, not an escaped byte
        return _SURROGATE.sub("\ufffd", text)
    return raw.decode("utf-8", "kb-typed-text")


# Control characters a document may hold: an escape sequence clears the screen or recolours the
# terminal, a carriage return overwrites what was printed. Each becomes its visible Unicode
# picture (ESC shows as ␛), one character for one, so highlight offsets stay right.
_CONTROL_PICTURES = {code: 0x2400 + code for code in range(0x20) if chr(code) not in "\t\n"}
_CONTROL_PICTURES[0x7F] = 0x2421
_CONTROL_PICTURES.update({code: 0xFFFD for code in range(0x80, 0xA0)})


def terminal_safe(text: str) -> str:
    """`text` with every control character but tab and newline made visible and harmless."""
    return text.translate(_CONTROL_PICTURES)
