"""A reader for the JavaScript literals WhoScored renders into its pages.

The pages embed data as JS object/array literals, not JSON: unquoted keys, single-quoted strings,
array elisions, `new Date(y, m0, d)`, `JSON.parse('…')`. This module reads exactly that subset and
finds the literal that follows a marker (`var NAME =`, `require.config.params['key'] =`, `key:`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

JsValue = Any


class JsSyntaxError(ValueError):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at offset {position}")
        self.position = position


@dataclass(frozen=True)
class JsName:
    """A bare reference to another variable (`tournamentTables: tables`): kept, not evaluated."""

    name: str


_SKIP = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/)*", re.DOTALL)
_NUMBER = re.compile(r"-?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*")
_PLAIN_STRING_RUN = {"'": re.compile(r"[^'\\\n]+"), '"': re.compile(r'[^"\\\n]+')}
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
_CONSTANTS: dict[str, JsValue] = {
    "true": True,
    "false": False,
    "null": None,
    "undefined": None,
    "NaN": float("nan"),
    "Infinity": float("inf"),
}


class _Reader:
    def __init__(self, text: str, position: int) -> None:
        self.text = text
        self.pos = position

    def skip(self) -> None:
        self.pos = _SKIP.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise JsSyntaxError(f"expected {char!r}, found {self.text[self.pos : self.pos + 20]!r}", self.pos)
        self.pos += 1

    def accept(self, literal: str) -> bool:
        self.skip()
        if self.text.startswith(literal, self.pos):
            self.pos += len(literal)
            return True
        return False

    def value(self) -> JsValue:
        char = self.peek()
        if char == "{":
            return self.object()
        if char == "[":
            return self.array()
        if char in "'\"":
            return self.string()
        if char == "(":
            return self.parenthesised()
        if char == "-" or char == "." or char.isdigit():
            return self.number()
        if char and (char.isalpha() or char in "_$"):
            return self.identifier_expression()
        raise JsSyntaxError(f"unexpected {self.text[self.pos : self.pos + 20]!r}", self.pos)

    def object(self) -> dict[str, JsValue]:
        self.expect("{")
        result: dict[str, JsValue] = {}
        while True:
            char = self.peek()
            if char == "}":
                self.pos += 1
                return result
            key = self.key()
            self.expect(":")
            result[key] = self.value()
            if self.peek() == ",":
                self.pos += 1
            elif self.peek() != "}":
                raise JsSyntaxError("expected ',' or '}' in object", self.pos)

    def key(self) -> str:
        char = self.peek()
        if char in "'\"":
            return self.string()
        match = _NUMBER.match(self.text, self.pos) if char.isdigit() else _IDENTIFIER.match(self.text, self.pos)
        if not match:
            raise JsSyntaxError("expected an object key", self.pos)
        self.pos = match.end()
        return match.group()

    def array(self) -> list[JsValue]:
        # JS semantics: `[1,,2]` has a hole (None here); one trailing comma adds nothing.
        self.expect("[")
        items: list[JsValue] = []
        awaiting_item = True
        while True:
            char = self.peek()
            if char == "]":
                self.pos += 1
                return items
            if char == ",":
                if awaiting_item:
                    items.append(None)
                awaiting_item = True
                self.pos += 1
                continue
            if not awaiting_item:
                raise JsSyntaxError("expected ',' or ']' in array", self.pos)
            items.append(self.value())
            awaiting_item = False

    def string(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        plain_run = _PLAIN_STRING_RUN[quote]
        parts: list[str] = []
        while True:
            run = plain_run.match(self.text, self.pos)
            if run:
                parts.append(run.group())
                self.pos = run.end()
            if self.pos >= len(self.text):
                raise JsSyntaxError("unterminated string", self.pos)
            char = self.text[self.pos]
            if char == quote:
                self.pos += 1
                return "".join(parts)
            if char == "\n":
                raise JsSyntaxError("newline in string", self.pos)
            parts.append(self.escape())

    def escape(self) -> str:
        escaped = self.text[self.pos + 1 : self.pos + 2]
        self.pos += 2
        if escaped in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[escaped]
        if escaped == "\n":  # a line continuation
            return ""
        if escaped in "xu":
            if escaped == "u" and self.text.startswith("{", self.pos):
                end = self.text.index("}", self.pos)
                digits, self.pos = self.text[self.pos + 1 : end], end + 1
            else:
                width = 2 if escaped == "x" else 4
                digits, self.pos = self.text[self.pos : self.pos + width], self.pos + width
            try:
                return chr(int(digits, 16))
            except ValueError:
                raise JsSyntaxError(f"bad \\{escaped} escape", self.pos) from None
        return escaped  # \' \" \\ \/ and any other character stand for themselves

    def number(self) -> int | float:
        match = _NUMBER.match(self.text, self.pos)
        if not match:
            raise JsSyntaxError("bad number", self.pos)
        self.pos = match.end()
        token = match.group()
        if token.lstrip("-").lower().startswith("0x"):
            return int(token, 16)
        if any(c in token for c in ".eE"):
            return float(token)
        return int(token)

    def parenthesised(self) -> JsValue:
        self.expect("(")
        inner = self.value()
        self.expect(")")
        return self.method_suffix(inner)

    def method_suffix(self, value: JsValue) -> JsValue:
        # `(new Date(2020, 8, 12)).toString()`: the page renders the date; we keep the date itself.
        while self.accept(".toString()"):
            pass
        return value

    def identifier_expression(self) -> JsValue:
        match = _IDENTIFIER.match(self.text, self.pos)
        assert match is not None  # value() dispatched on an identifier start
        name = match.group()
        self.pos = match.end()
        if name == "new":
            return self.new_expression()
        if name == "JSON.parse":
            return self.json_parse()
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        return JsName(name)

    def new_expression(self) -> date | datetime:
        if not self.accept("Date"):
            raise JsSyntaxError("only `new Date(...)` is supported", self.pos)
        arguments = self.call_arguments()
        if len(arguments) < 3 or not all(isinstance(a, int) for a in arguments):
            raise JsSyntaxError(f"unsupported Date arguments {arguments!r}", self.pos)
        year, month0, day, *time_parts = arguments
        moment = datetime(year, month0 + 1, day, *time_parts[:4]) if time_parts else date(year, month0 + 1, day)
        return self.method_suffix(moment)

    def json_parse(self) -> JsValue:
        arguments = self.call_arguments()
        if len(arguments) != 1 or not isinstance(arguments[0], str):
            raise JsSyntaxError("JSON.parse takes one string literal", self.pos)
        try:
            return json.loads(arguments[0])
        except json.JSONDecodeError as exc:
            raise JsSyntaxError(f"JSON.parse string is not JSON: {exc}", self.pos) from None

    def call_arguments(self) -> list[JsValue]:
        self.expect("(")
        arguments: list[JsValue] = []
        while self.peek() != ")":
            arguments.append(self.value())
            if self.peek() == ",":
                self.pos += 1
        self.pos += 1
        return arguments


def parse_literal(text: str, position: int = 0) -> tuple[JsValue, int]:
    """Read one literal starting at `position`; returns it and the offset just past it."""
    reader = _Reader(text, position)
    value = reader.value()
    return value, reader.pos


def parse_js(text: str) -> JsValue:
    """Read a text that is exactly one literal (surrounding whitespace and a `;` allowed)."""
    value, end = parse_literal(text)
    rest = text[end:].strip().rstrip(";").strip()
    if rest:
        raise JsSyntaxError(f"trailing text {rest[:20]!r}", end)
    return value


# --- markers in page source ---------------------------------------------------------------------


def _marker_ends(source: str, pattern: str) -> list[int]:
    return [m.end() for m in re.finditer(pattern, source)]


def var_marker(name: str) -> str:
    return rf"\bvar\s+{re.escape(name)}\s*=\s*"


def require_param_marker(key: str) -> str:
    return rf"require\.config\.params\[\s*(['\"]){re.escape(key)}\1\s*\]\s*=\s*"


def key_marker(key: str) -> str:
    return rf"(?<![\w$])(['\"]?){re.escape(key)}\1\s*:\s*"


def find_literal(source: str, marker: str, start: int = 0) -> JsValue | None:
    """The literal after the first match of the `marker` regex, or None when the marker is absent."""
    ends = _marker_ends(source[start:], marker)
    return parse_literal(source, start + ends[0])[0] if ends else None


def find_all_literals(source: str, marker: str) -> list[JsValue]:
    return [parse_literal(source, end)[0] for end in _marker_ends(source, marker)]


def find_json_after(source: str, marker: str, start: int = 0) -> JsValue | None:
    """For keys whose value is strict JSON (large `matchCentreData`): decode it at C speed."""
    match = re.compile(marker).search(source, start)
    if match is None:
        return None
    try:
        return json.JSONDecoder().raw_decode(source, match.end())[0]
    except json.JSONDecodeError:
        return parse_literal(source, match.end())[0]
