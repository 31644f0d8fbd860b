"""Text from results files and imported files, made safe to put into markdown.

Run names, task and suite names, devices and revisions come from files anyone can write:
unescaped, a `|` splits a table cell, `<script>` becomes HTML, a backtick or a bracket
starts code or a link, a newline ends the table. Everything the leaderboard writes that
it did not compose itself goes through one of these two.
"""

from __future__ import annotations

_ESCAPES = str.maketrans(
    {
        "\\": "\\\\",
        "|": "\\|",
        "`": "\\`",
        "[": "\\[",
        "]": "\\]",
        "<": "&lt;",
        ">": "&gt;",
        "\r": " ",
        "\n": " ",
    }
)


def escaped(text: object) -> str:
    """`text` as plain markdown text, also inside a table cell."""
    return str(text).translate(_ESCAPES)


def code(text: object) -> str:
    """`text` as inline code (shown verbatim), or as escaped plain text when it holds what
    a code span cannot (a backtick, a line break) or what some renderers would still take
    for HTML inside one (`<`, `>`)."""
    text = str(text)
    if any(character in text for character in "`\r\n<>"):
        return escaped(text)
    # inside a code span only `|` needs escaping (GFM tables split on it); the rest is literal
    return f"`{text.replace('|', chr(92) + '|')}`"
