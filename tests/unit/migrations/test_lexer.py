"""The statement splitter: what the mysql client would send, with each statement's start line."""

from __future__ import annotations

import pytest

from ticketctl.migrations.lexer import SqlSyntaxError, TokenKind, split_statements

pytestmark = pytest.mark.unit


def texts(sql: str) -> list[str]:
    return [statement.text for statement in split_statements(sql)]


def test_splits_on_semicolons_and_reports_start_lines() -> None:
    statements = split_statements("CREATE TABLE a (x INT);\n\n  INSERT INTO a\n  VALUES (1);\nSELECT 1")
    assert [(s.index, s.line, s.text) for s in statements] == [
        (1, 1, "CREATE TABLE a (x INT)"),
        (2, 3, "INSERT INTO a\n  VALUES (1)"),
        (3, 5, "SELECT 1"),
    ]


@pytest.mark.parametrize(
    "literal",
    [
        "'a;b'",
        "'it''s; fine'",
        r"'back\'slash; quote'",
        r"'ends with backslash\\'",
        '"double; quoted"',
        '"say ""hi""; ok"',
        "`odd;name`",
        "`back``tick;`",
    ],
)
def test_delimiter_inside_quotes_does_not_split(literal: str) -> None:
    assert texts(f"SELECT {literal}; SELECT 2;") == [f"SELECT {literal}", "SELECT 2"]


def test_quoted_tokens_have_their_kinds() -> None:
    (statement,) = split_statements("SELECT `row_number`, 'x', \"y\" FROM t")
    kinds = [(token.kind, token.text) for token in statement.tokens if token.kind is not TokenKind.WORD]
    assert kinds == [
        (TokenKind.IDENTIFIER, "`row_number`"),
        (TokenKind.PUNCT, ","),
        (TokenKind.STRING, "'x'"),
        (TokenKind.PUNCT, ","),
        (TokenKind.STRING, '"y"'),
    ]
    assert statement.words == ["SELECT", "FROM", "T"]


def test_comments_are_skipped_and_do_not_split_or_start_statements() -> None:
    sql = (
        "-- a comment; with a semicolon\n"
        "# hash comment;\n"
        "/* block; comment\n spanning lines; */\n"
        "SELECT 1; -- trailing; comment\n"
        "SELECT /* inline; */ 2;\n"
        "-- only a comment at the end;\n"
    )
    statements = split_statements(sql)
    assert [(s.line, s.text) for s in statements] == [(5, "SELECT 1"), (6, "SELECT /* inline; */ 2")]


def test_double_dash_needs_whitespace_to_start_a_comment() -> None:
    assert texts("SELECT 5--1;\nSELECT 2") == ["SELECT 5--1", "SELECT 2"]
    assert texts("SELECT 5 --\nSELECT 2;") == ["SELECT 5 --\nSELECT 2"]


def test_executable_comments_are_code_and_kept() -> None:
    statements = split_statements("/*!40101 SET NAMES utf8mb4 */;\n/*M!100100 SET @a = ';' */;\n/* plain */;")
    assert [(s.line, s.text) for s in statements] == [
        (1, "/*!40101 SET NAMES utf8mb4 */"),
        (2, "/*M!100100 SET @a = ';' */"),
    ]
    assert statements[0].tokens[0].kind is TokenKind.EXECUTABLE_COMMENT


def test_delimiter_command_changes_the_delimiter_and_is_not_a_statement() -> None:
    sql = (
        "CREATE TABLE t (x INT);\n"
        "DELIMITER //\n"
        "CREATE PROCEDURE p()\n"
        "BEGIN\n"
        "  SELECT 1;\n"
        "  SELECT 2;\n"
        "END //\n"
        "delimiter ;\n"
        "CALL p();\n"
    )
    statements = split_statements(sql)
    assert [(s.line, s.text) for s in statements] == [
        (1, "CREATE TABLE t (x INT)"),
        (3, "CREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\n  SELECT 2;\nEND"),
        (9, "CALL p()"),
    ]


def test_multi_character_delimiter_and_double_semicolon() -> None:
    assert texts("DELIMITER $$\nSELECT 1; SELECT 2$$\nDELIMITER ;;\nSELECT 3;;") == ["SELECT 1; SELECT 2", "SELECT 3"]


def test_trigger_body_without_delimiter_stays_one_statement() -> None:
    sql = (
        "CREATE DEFINER=`root`@`%` TRIGGER seats_audit AFTER UPDATE ON seats FOR EACH ROW\n"
        "BEGIN\n"
        "  IF NEW.status <> OLD.status THEN\n"
        "    INSERT INTO seat_audit (seat_id) VALUES (NEW.seat_id);\n"
        "  END IF;\n"
        "  SET @x = CASE WHEN NEW.version > 1 THEN 'a;' ELSE 'b' END;\n"
        "  BEGIN\n"
        "    SELECT 1;\n"
        "  END;\n"
        "  lbl: LOOP LEAVE lbl; END LOOP lbl;\n"
        "END;\n"
        "SELECT 'after';\n"
    )
    statements = split_statements(sql)
    assert len(statements) == 2
    assert statements[0].text.startswith("CREATE DEFINER")
    assert statements[0].text.endswith("END LOOP lbl;\nEND")
    assert (statements[1].line, statements[1].text) == (12, "SELECT 'after'")


def test_procedure_with_case_statement_and_function_without_body() -> None:
    sql = (
        "CREATE FUNCTION f(x INT) RETURNS INT DETERMINISTIC RETURN CASE WHEN x > 0 THEN 1 ELSE 0 END;\n"
        "CREATE OR REPLACE PROCEDURE p(x INT)\n"
        "BEGIN\n"
        "  CASE x WHEN 1 THEN SELECT 1; ELSE SELECT 2; END CASE;\n"
        "END;\n"
        "SELECT 3;"
    )
    assert [s.line for s in split_statements(sql)] == [1, 2, 6]


def test_begin_as_transaction_start_is_an_ordinary_statement() -> None:
    assert texts("BEGIN;\nINSERT INTO t VALUES (1);\nCOMMIT;") == ["BEGIN", "INSERT INTO t VALUES (1)", "COMMIT"]


def test_mariadb_anonymous_block() -> None:
    assert texts("BEGIN NOT ATOMIC\n  SELECT 1;\n  SELECT 2;\nEND;\nSELECT 3;") == [
        "BEGIN NOT ATOMIC\n  SELECT 1;\n  SELECT 2;\nEND",
        "SELECT 3",
    ]


def test_lines_count_newlines_inside_strings_and_comments() -> None:
    statements = split_statements("SELECT 'a\nb';\n/*\n\n*/\nSELECT `x\ny`;\nSELECT 3;")
    assert [s.line for s in statements] == [1, 6, 8]


def test_crlf_line_endings() -> None:
    statements = split_statements("SELECT 1;\r\n-- c\r\nSELECT 2;\r\n")
    assert [(s.line, s.text) for s in statements] == [(1, "SELECT 1"), (3, "SELECT 2")]


@pytest.mark.parametrize(
    ("sql", "message", "line"),
    [
        ("SELECT 1;\nSELECT 'oops;\n", "unterminated ' string", 2),
        ('SELECT "x', 'unterminated " string', 1),
        ("SELECT 1;\n\nSELECT `x", "unterminated ` identifier", 3),
        ("SELECT 1; /* never\nclosed", "unterminated /* comment", 1),
        ("SELECT 1;\nDELIMITER\n", "DELIMITER needs a value", 2),
    ],
)
def test_syntax_errors_name_the_line(sql: str, message: str, line: int) -> None:
    with pytest.raises(SqlSyntaxError) as raised:
        split_statements(sql)
    assert raised.value.message.startswith(message)
    assert raised.value.line == line


def test_empty_and_comment_only_input_has_no_statements() -> None:
    assert split_statements("") == []
    assert split_statements("-- nothing\n/* at all */\n;;\n") == []
