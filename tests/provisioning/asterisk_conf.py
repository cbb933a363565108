"""An independent reader of Asterisk's config syntax, for checking generated files.

Written from the rules of main/config.c as PROTOCOLS.md §6.3 states them, not from the
renderer: lines split on LF; `;` starts a comment unless escaped as `\\;` (the backslash is
dropped); `;--` opens a block comment that nests and `--;` closes it; what is left is
trimmed; `[name]` (optionally followed by `(...)`) starts a section, `#...` is a directive,
and `name=value`, `name=>value` or `name+=value` sets a variable (both sides trimmed).

The PyPI `asterisklint` checker was considered: its parser does not handle block comments
(`;--`), which are one of the injections this reader must see, so it is not used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_COMMENT_DEPTH = 128


@dataclass
class Section:
    name: str
    options: str | None  # the text in (...) after ], e.g. "!" or "+" or template names
    entries: list[tuple[str, str, str]] = field(default_factory=list)  # (key, op, value)

    def option_names(self) -> list[str]:
        return [key for key, _, _ in self.entries]

    def values(self, key: str) -> list[str]:
        return [value for k, _, value in self.entries if k == key]


@dataclass
class ParsedConfig:
    sections: list[Section] = field(default_factory=list)
    directives: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # lines Asterisk would warn about
    comments: int = 0
    unterminated_block_comment: bool = False


def _strip_comments(line: str, depth: int, parsed: ParsedConfig) -> tuple[str, int]:
    """Remove comments from one line, tracking block-comment depth across lines.

    Mirrors config.c: each `;` is, in this order, an escaped `\\;` (the backslash is
    dropped), a block start `;--` (not `;---`), a block end `--;` (dashes after the last
    marker), or a line comment when outside a block. A stray `--;` outside a block drives
    the depth below zero, and Asterisk then treats everything after it as comment too.
    """
    out: list[str] = []
    segment_start = 0  # config.c's new_buf: where the scan for the next marker resumes
    i = 0
    while i < len(line):
        ch = line[i]
        if ch != ";":
            if depth == 0:
                out.append(ch)
            i += 1
            continue
        if i > segment_start and line[i - 1] == "\\":
            if depth == 0:
                out[-1] = ";"
            segment_start = i + 1
        elif line.startswith(";--", i) and not line.startswith(";---", i):
            parsed.comments += 1
            if depth < MAX_COMMENT_DEPTH:
                depth += 1
                segment_start = i + 3
                i += 3
                continue
        elif i >= segment_start + 2 and line[i - 2 : i] == "--":
            if depth == 0:
                del out[-2:]
            depth -= 1
            segment_start = i + 1
        elif depth == 0:
            parsed.comments += 1
            break
        else:
            segment_start = i + 1
        i += 1
    return "".join(out), depth


def _parse_line(text: str, parsed: ParsedConfig) -> None:
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            parsed.problems.append(f"no closing ']': {text!r}")
            return
        rest = text[close + 1 :].strip()
        options = None
        if rest.startswith("(") and rest.endswith(")"):
            options = rest[1:-1]
        elif rest:
            parsed.problems.append(f"text after section name: {text!r}")
        parsed.sections.append(Section(text[1:close], options))
        return
    if text.startswith("#"):
        parsed.directives.append(text)
        return
    eq = text.find("=")
    if eq < 0:
        parsed.problems.append(f"no '=' in line: {text!r}")
        return
    key = text[:eq]
    value = text[eq + 1 :]
    op = "="
    if value.startswith(">"):
        op, value = "=>", value[1:]
    elif key.endswith("+"):
        op, key = "+=", key[:-1]
    key, value = key.strip(), value.strip()
    if key.startswith("\\"):
        key = key[1:]
    if not parsed.sections:
        parsed.problems.append(f"variable outside a section: {text!r}")
        return
    parsed.sections[-1].entries.append((key, op, value))


def parse_config(text: str) -> ParsedConfig:
    """Parse a whole file the way Asterisk's config reader would see it."""
    parsed = ParsedConfig()
    depth = 0
    for raw in text.split("\n"):
        stripped, depth = _strip_comments(raw, depth, parsed)
        stripped = stripped.strip(" \t\r\v\f")
        if stripped:
            _parse_line(stripped, parsed)
    parsed.unterminated_block_comment = depth != 0
    return parsed
