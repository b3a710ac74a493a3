"""Reading regular expressions as text (no Django: the classifier and the verdict use it)."""

from __future__ import annotations


def top_level_alternatives(pattern: str) -> list[str]:
    """The alternatives of `a|b|c` outside any group or character class, as written."""
    parts, depth, start, escaped, in_class = [], 0, 0, False, False
    for at, char in enumerate(pattern):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(pattern[start:at])
            start = at + 1
    parts.append(pattern[start:])
    return parts
