"""A MySQL-aware lexer that splits a migration file into statements.

It follows what the ``mysql`` command-line client does, so a file that the
client runs also runs here, statement by statement:

* ``'…'`` and ``"…"`` strings (backslash escapes and doubled quotes), and
  backtick identifiers (doubled backticks), may hold the delimiter;
* ``-- `` (a dash pair followed by whitespace), ``#`` and ``/* */`` comments
  are skipped; ``/*! */`` and ``/*M! */`` executable comments are code and are
  kept whole;
* ``DELIMITER x`` at the start of a line changes the delimiter;
* with the default ``;`` delimiter, the ``BEGIN … END`` body of
  ``CREATE TRIGGER/PROCEDURE/FUNCTION/EVENT`` is kept in one statement, so
  such a file does not need ``DELIMITER`` at all.

Each :class:`Statement` keeps its text exactly as written (comments inside it
included), the line it starts on, and its tokens for the linter and planner.

sqlparse was considered: it does not implement ``DELIMITER`` and splits
``BEGIN … END`` bodies by heuristics that differ from the client's, and its
statements carry no line numbers, which every error message here needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum

DEFAULT_DELIMITER = ";"

# Words after which ``END`` closes a flow-control block that the lexer does not count.
_UNCOUNTED_BLOCKS = frozenset({"IF", "LOOP", "WHILE", "REPEAT", "FOR"})
_ROUTINE_OBJECTS = frozenset({"TRIGGER", "PROCEDURE", "FUNCTION", "EVENT", "PACKAGE"})
_CREATE_MODIFIERS = frozenset({"OR", "REPLACE", "AGGREGATE", "NONDETERMINISTIC"})
_DELIMITER_COMMAND = re.compile(r"delimiter(?=[ \t]|$)", re.IGNORECASE | re.MULTILINE)
_NEXT_WORD = re.compile(r"[ \t\r\n]*([A-Za-z_]+)")


class TokenKind(Enum):
    WORD = "word"  # a keyword, a bare identifier or a number
    IDENTIFIER = "identifier"  # a `backtick` identifier
    STRING = "string"  # a '…' or "…" literal
    EXECUTABLE_COMMENT = "executable_comment"  # /*! … */ or /*M! … */
    PUNCT = "punct"  # any other single character


@dataclass(frozen=True)
class Token:
    """One code token of a statement (whitespace and plain comments are not tokens)."""

    kind: TokenKind
    text: str
    line: int

    @property
    def upper(self) -> str:
        return self.text.upper()

    def is_word(self, *words: str) -> bool:
        return self.kind is TokenKind.WORD and self.text.upper() in words


@dataclass(frozen=True)
class Statement:
    """One statement of a file: its text as written, where it starts, and its tokens."""

    index: int  # 1-based position in the file
    text: str
    line: int  # line of its first character
    tokens: tuple[Token, ...] = field(repr=False, compare=False)

    @property
    def words(self) -> list[str]:
        """The upper-cased bare words, in order: keywords and unquoted identifiers."""
        return [token.upper for token in self.tokens if token.kind is TokenKind.WORD]


class SqlSyntaxError(ValueError):
    """The file cannot be split: an unterminated quote or comment, or a bad DELIMITER line."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.message = message
        self.line = line


def split_statements(text: str) -> list[Statement]:
    """Split SQL text into statements, as the ``mysql`` client would."""
    return list(_Scanner(text).statements())


class _Scanner:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.line = 1
        self.delimiter = DEFAULT_DELIMITER
        self._reset()
        self.count = 0

    def _reset(self) -> None:
        self.start: int | None = None  # offset of the statement's first code character
        self.start_line = 0
        self.tokens: list[Token] = []
        self.depth = 0  # BEGIN … END nesting inside a stored program
        self.compound = False

    def statements(self) -> Iterator[Statement]:
        text, length = self.text, len(self.text)
        while self.pos < length:
            if self.start is None and self._at_line_start() and self._delimiter_command():
                continue
            if self.depth == 0 and text.startswith(self.delimiter, self.pos):
                statement = self._finish(self.pos)
                self.pos += len(self.delimiter)
                if statement is not None:
                    yield statement
                continue
            self._scan_one()
        statement = self._finish(length)
        if statement is not None:
            yield statement

    # ------------------------------------------------------------------ statement boundaries

    def _finish(self, end: int) -> Statement | None:
        if self.start is None:
            self._reset()
            return None
        self.count += 1
        statement = Statement(
            index=self.count,
            text=self.text[self.start : end].rstrip(),
            line=self.start_line,
            tokens=tuple(self.tokens),
        )
        self._reset()
        return statement

    def _at_line_start(self) -> bool:
        line_start = self.text.rfind("\n", 0, self.pos) + 1
        return self.text[line_start : self.pos].strip(" \t\r") == ""

    def _delimiter_command(self) -> bool:
        """Handle a ``DELIMITER x`` client command at the start of a line."""
        text = self.text
        offset = self.pos
        while offset < len(text) and text[offset] in " \t\r":
            offset += 1
        match = _DELIMITER_COMMAND.match(text, offset)
        if match is None:
            return False
        line_end = text.find("\n", match.end())
        line_end = len(text) if line_end == -1 else line_end
        arguments = text[match.end() : line_end].split()
        if not arguments:
            raise SqlSyntaxError("DELIMITER needs a value, for example 'DELIMITER //'", self.line)
        delimiter = arguments[0]
        if len(delimiter) >= 2 and delimiter[0] == delimiter[-1] and delimiter[0] in "'\"`":
            delimiter = delimiter[1:-1]
        if not delimiter or "\\" in delimiter:
            raise SqlSyntaxError(f"DELIMITER {arguments[0]!r} is not a usable delimiter", self.line)
        self.delimiter = delimiter
        self.pos = line_end
        return True

    # ------------------------------------------------------------------ tokens

    def _scan_one(self) -> None:
        text, pos = self.text, self.pos
        char = text[pos]
        if char == "\n":
            self.line += 1
            self.pos += 1
        elif char in " \t\r\f\v":
            self.pos += 1
        elif char == "#" or (text.startswith("--", pos) and (pos + 2 >= len(text) or text[pos + 2] in " \t\r\n\f\v")):
            end = text.find("\n", pos)
            self.pos = len(text) if end == -1 else end
        elif text.startswith("/*!", pos) or text.startswith("/*M!", pos):
            self._block_comment(TokenKind.EXECUTABLE_COMMENT)
        elif text.startswith("/*", pos):
            self._block_comment(None)
        elif char in "'\"":
            self._quoted(char, TokenKind.STRING, backslash=True)
        elif char == "`":
            self._quoted(char, TokenKind.IDENTIFIER, backslash=False)
        elif _is_word_char(char):
            end = pos + 1
            while end < len(text) and _is_word_char(text[end]) and not text.startswith(self.delimiter, end):
                end += 1
            self._add(TokenKind.WORD, pos, end, self.line)
            self.pos = end
            self._track_blocks()
        else:
            self._add(TokenKind.PUNCT, pos, pos + 1, self.line)
            self.pos += 1

    def _add(self, kind: TokenKind, start: int, end: int, line: int) -> None:
        if self.start is None:
            self.start = start
            self.start_line = line
        self.tokens.append(Token(kind, self.text[start:end], line))

    def _block_comment(self, kind: TokenKind | None) -> None:
        start, line = self.pos, self.line
        end = self.text.find("*/", start + 2)
        if end == -1:
            raise SqlSyntaxError("unterminated /* comment", line)
        end += 2
        if kind is not None:
            self._add(kind, start, end, line)
        self.line += self.text.count("\n", start, end)
        self.pos = end

    def _quoted(self, quote: str, kind: TokenKind, *, backslash: bool) -> None:
        text, start, line = self.text, self.pos, self.line
        pos = start + 1
        while True:
            if pos >= len(text):
                what = "identifier" if quote == "`" else "string"
                raise SqlSyntaxError(f"unterminated {quote} {what}", line)
            char = text[pos]
            if backslash and char == "\\":
                pos += 2
            elif char == quote:
                if text.startswith(quote, pos + 1):
                    pos += 2
                else:
                    pos += 1
                    break
            else:
                pos += 1
        self._add(kind, start, pos, line)
        self.line += text.count("\n", start, pos)
        self.pos = pos

    # ------------------------------------------------------------------ BEGIN … END bodies

    def _track_blocks(self) -> None:
        """Count BEGIN/CASE … END in stored programs so that inner ';' do not split them."""
        if self.delimiter != DEFAULT_DELIMITER:
            return
        word = self.tokens[-1].upper
        if not self.compound:
            if (word == "BEGIN" and _starts_stored_program(self.tokens)) or (
                word == "ATOMIC" and _is_anonymous_block(self.tokens)
            ):
                self.compound = True
                self.depth = 1
            return
        if len(self.tokens) >= 2 and self.tokens[-2].is_word("END"):
            return  # the CASE of 'END CASE' closes, it does not open
        if word in ("BEGIN", "CASE"):
            self.depth += 1
        elif word == "END":
            following = _NEXT_WORD.match(self.text, self.pos)
            if following is None or following.group(1).upper() not in _UNCOUNTED_BLOCKS:
                self.depth = max(0, self.depth - 1)


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char in "_$" or ord(char) >= 0x80


def _starts_stored_program(tokens: list[Token]) -> bool:
    """True when the statement so far is ``CREATE [OR REPLACE] [DEFINER=…] TRIGGER|PROCEDURE|FUNCTION|EVENT …``."""
    if not tokens or not tokens[0].is_word("CREATE"):
        return False
    index = 1
    while index < len(tokens):
        token = tokens[index]
        if token.is_word(*_CREATE_MODIFIERS):
            index += 1
        elif token.is_word("DEFINER"):
            index = _skip_definer(tokens, index + 1)
        else:
            return token.is_word(*_ROUTINE_OBJECTS)
    return False


def _is_anonymous_block(tokens: list[Token]) -> bool:
    """MariaDB's ``BEGIN NOT ATOMIC … END`` block at the top level."""
    words = [token.upper for token in tokens if token.kind is TokenKind.WORD]
    return words[:1] == ["BEGIN"] and words[1:3] == ["NOT", "ATOMIC"]


def _skip_definer(tokens: list[Token], index: int) -> int:
    """Skip ``= user[@host]`` or ``= CURRENT_USER[()]`` after DEFINER; returns the next index."""
    if index < len(tokens) and tokens[index].text == "=":
        index += 1
    if index < len(tokens):
        index += 1  # the user, or CURRENT_USER
    while index < len(tokens) and tokens[index].text in ("@", "(", ")"):
        index += 1 if tokens[index].text in "()" else 2
    return index
