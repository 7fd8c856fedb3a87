"""Reading code out of a model's answer: the body of its fenced block for a language."""

from __future__ import annotations

import re

_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_LANGUAGES = {"sql": {"sql", "sqlite", "sqlite3"}, "python": {"python", "python3", "py"}}


def extract_code(text: str, language: str) -> str:
    """The body of the first ```language block (an unclosed one runs to the end), else of the first fenced
    block of any language, else the whole text; stripped."""
    names = _LANGUAGES.get(language, {language})
    blocks = [(match.group(1).lower(), match.group(2)) for match in _FENCE.finditer(text)]
    for name, body in blocks:
        if name in names:
            return body.strip()
    return blocks[0][1].strip() if blocks else text.strip()
