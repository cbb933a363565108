"""Asterisk's dialplan, as far as Vocals' contexts use it: extension matching (exact names
before patterns `_X.`, `_+X.`, `_NXX`, `[1-5]`, `.`, `!`), priorities with `same => n`, and
the applications NoOp, Goto, Stasis and Hangup, with ${EXTEN} and ${EXTEN:offset}.

The fake runs the shipped asterisk/conf/extensions.conf and generated route files through
this, so a caller's number reaches Stasis exactly as the real dialplan would pass it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

SHIPPED = Path(__file__).resolve().parents[3] / "asterisk" / "conf" / "extensions.conf"
_LINE = re.compile(r"^(exten|same)\s*=>\s*(.*)$")
_APP = re.compile(r"^(\w+)\((.*)\)$|^(\w+)$")
_PATTERN_CLASSES = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}


class DialplanHangup(Exception):
    """The dialplan ended the call before Stasis (no such extension, or Hangup())."""


@dataclass
class Extension:
    name: str
    steps: list[tuple[str, str]] = field(default_factory=list)  # (application, data)

    def matches(self, exten: str) -> bool:
        if not self.name.startswith("_"):
            return self.name == exten
        regex = ""
        body = self.name[1:]
        i = 0
        while i < len(body):
            char = body[i]
            if char == "[":
                end = body.index("]", i)
                regex += body[i : end + 1]
                i = end + 1
                continue
            regex += _PATTERN_CLASSES.get(char.upper(), re.escape(char))
            i += 1
        return re.fullmatch(regex, exten) is not None


@dataclass
class Dialplan:
    contexts: dict[str, list[Extension]] = field(default_factory=dict)

    @classmethod
    def shipped(cls, *generated: str) -> Dialplan:
        """The shipped extensions.conf plus generated files (their text)."""
        plan = cls()
        for text in (SHIPPED.read_text(), *generated):
            plan.load(text)
        return plan

    def load(self, text: str) -> None:
        context: list[Extension] | None = None
        current: Extension | None = None
        for raw in text.splitlines():
            line = raw.split(";", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("[") and line.endswith("]"):
                context = self.contexts.setdefault(line[1:-1], [])
                current = None
                continue
            match = _LINE.match(line)
            if match is None or context is None:
                continue  # settings (static = yes) and includes
            kind, rest = match.groups()
            if kind == "exten":
                name, _, rest = rest.partition(",")
                _priority, _, app = rest.partition(",")
                found = [e for e in context if e.name == name]
                current = found[0] if found else Extension(name)
                if not found:
                    context.append(current)
            else:
                _priority, _, app = rest.partition(",")
            if current is not None:
                parsed = _APP.match(app.strip())
                assert parsed is not None, app
                current.steps.append((parsed.group(1) or parsed.group(3), parsed.group(2) or ""))

    def _find(self, context: str, exten: str) -> Extension:
        candidates = self.contexts.get(context, [])
        exact = [e for e in candidates if e.name == exten]
        patterns = [e for e in candidates if e.name.startswith("_") and e.matches(exten)]
        found = exact or patterns
        if not found:
            raise DialplanHangup(f"no extension {exten} in context {context}")
        return found[0]

    def stasis(self, context: str, exten: str) -> tuple[str, list[str]]:
        """Run the dialplan for `exten` in `context` up to Stasis(); its app and args."""
        for _ in range(20):  # Goto loops end here
            extension = self._find(context, exten)
            for app, data in extension.steps:
                data = _substitute(data, exten)
                if app == "Stasis":
                    name, *args = data.split(",")
                    return name, args
                if app == "Goto":
                    parts = data.split(",")
                    context, exten = (
                        (parts[0], parts[1]) if len(parts) == 3 else (context, parts[0])
                    )
                    break
                if app == "Hangup":
                    raise DialplanHangup(f"Hangup() in {context} for {exten}")
            else:
                raise DialplanHangup(f"dialplan for {exten} in {context} ran out")
        raise DialplanHangup("Goto loop")


def _substitute(data: str, exten: str) -> str:
    def value(match: re.Match[str]) -> str:
        name, offset = match.group(1), match.group(2)
        if name != "EXTEN":
            return ""
        return exten[int(offset) :] if offset else exten

    return re.sub(r"\$\{(\w+(?:\([^)]*\))?)(?::(-?\d+))?\}", value, data)
