"""Read back the Bicep subset the rule is written in (params, one resource with objects, arrays,
'strings', numbers, json('…'), true/false and parameter names), so a test can hold the Bicep to
what the ARM template says. Anything outside that subset is an error, not a guess."""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"""\s*(?:(?P<string>'(?:[^'\\\n]|\\.)*')|(?P<json>json\('(?P<text>[^']*)'\))
                      |(?P<number>-?\d+(?:\.\d+)?)|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[{}\[\]:]))""",
                    re.VERBOSE)
_ESCAPES = {"\\": "\\", "'": "'", "n": "\n", "r": "\r", "t": "\t", "$": "$"}


def _string(raw: str) -> str:
    body = raw[1:-1]
    if re.search(r"(?<!\\)\$\{", body):
        raise ValueError(f"interpolation in {raw[:60]!r}")
    return re.sub(r"\\(.)", lambda m: _ESCAPES[m.group(1)], body)


class _Reader:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = text.rstrip()
        while position < len(text):
            matched = _TOKEN.match(text, position)
            if matched is None:
                raise ValueError(f"not in the subset at {text[position:position + 40]!r}")
            kind = matched.lastgroup if matched.lastgroup != "text" else "json"
            value = matched.group("text") if kind == "json" else matched.group(kind or "")
            self.tokens.append((kind or "", value))
            position = matched.end()
        self.at = 0

    def next(self) -> tuple[str, str]:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def value(self, params: dict[str, Any]) -> Any:
        kind, text = self.next()
        if kind == "string":
            return _string(text)
        if kind == "json":
            return float(text)
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind == "word":
            return text == "true" if text in ("true", "false") else params[text]  # an unknown name: KeyError
        if text == "[":
            items = []
            while self.tokens[self.at][1] != "]":
                items.append(self.value(params))
            self.next()
            return items
        if text == "{":
            found = {}
            while self.tokens[self.at][1] != "}":
                kind, key = self.next()
                assert self.next()[1] == ":", "a key and its value are separated by ':'"
                found[_string(key) if kind == "string" else key] = self.value(params)
            self.next()
            return found
        raise ValueError(f"unexpected {text!r}")


def read_resource(text: str, **params: Any) -> dict[str, Any]:
    """The resource's body, with parameter names replaced by `params`; comments and decorators
    (`// …`, `@description('…')`) and the param lines are checked for shape and skipped."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("//"):
            continue
        if re.fullmatch(r"@description\('(?:[^'\\]|\\.)*'\)", stripped):
            continue
        if stripped.startswith("param "):
            assert re.fullmatch(r"param [A-Za-z]+ string( = .+)?", stripped), stripped
            continue
        lines.append(line)
    body = "\n".join(lines)
    head = re.match(r"resource \w+ '([^']+)' = ", body)
    assert head is not None, body[:80]
    reader = _Reader(body[head.end():])
    found = reader.value(params)
    assert reader.at == len(reader.tokens), "text after the resource"
    return {"type@apiVersion": head.group(1), **found}
