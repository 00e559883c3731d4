"""Whether a value's label is near it, as records write one: its own name, its column's header, or words before it.

Used for values that mean nothing alone (nine digits, a 40-character base64 string) and are PII or a secret
only under their label. Bounded work per candidate: 64 characters back on its line, one walk over a table's rows.
"""

from __future__ import annotations

import re

import re2

# How far back on its line a label is looked for.
REACH = 64
# What may stand between a label and its value on one line, after the rest of the label's
# identifier ("_full" of "ssn_full"): punctuation and up to four words ("SSN (US) lautet ",
# "Social Security # is ", "SS# : ", "ssn_full\": \"", "the SSN you asked for -> "), never a
# digit, a ";" or a ",", nor the end of a sentence; at most OTHER_WORDS of the words other than
# these ("SSN (US) lautet" passes, "SSN was verified by agent" not).
CONNECTING_WORDS = frozenset({"is", "was", "are", "of", "to", "for", "now", "changed", "updated", "set", "reads",
                              "you", "asked", "requested", "on", "file", "here", "as", "it", "the", "my", "your"})
MAX_WORDS = 4
OTHER_WORDS = 2
_IDENTIFIER = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
# Python's re on at most REACH characters, with no nested repetition: linear.
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]{0,9}>")  # table markup between label and value: <td>, </th>
_WORD = re.compile(r"[^\W\d_]+")
_SENTENCE_END = re.compile(r"[.!?]\s")
# A table row is at most this long; a value further into a line than this is in no table.
MAX_ROW = 4096


class Tables:
    """
    The header line of each table row met in one text, remembered: a row's header is found by
    walking back over the rows above it, and a walk stops at a row already walked, so the rows of
    one text are walked once in all (a CSV of 70,000 rows costs one pass, not 70,000).
    """

    __slots__ = ("text", "_top")

    def __init__(self, text: str) -> None:
        self.text = text
        self._top: dict[tuple[int, str, int], int] = {}  # (row start, delimiter, width) -> header start

    def header(self, line_start: int, delimiter: str, width: int) -> str:
        """The first line of the run of rows that share the shape of the row at C{line_start}."""
        text = self.text
        walked = []
        at = line_start
        top = line_start
        while True:
            known = self._top.get((at, delimiter, width))
            if known is not None:
                top = known
                break
            walked.append(at)
            top = at
            if at == 0:
                break
            previous = text.rfind("\n", max(0, at - 1 - MAX_ROW), at - 1) + 1
            if previous == 0 and at - 1 - MAX_ROW > 0:
                break  # a line longer than any row
            if not _same_shape(text[previous:at - 1], delimiter, width):
                break
            at = previous
        for start in walked:
            self._top[(start, delimiter, width)] = top
        end = text.find("\n", top, top + MAX_ROW)
        return text[top:end if end >= 0 else top + MAX_ROW]


def _same_shape(row: str, delimiter: str, width: int) -> bool:
    if delimiter == "|":
        return row.lstrip().startswith("|")
    return delimiters(row, delimiter) == width


# A quoted CSV field (RFC 4180: a doubled quote inside is two of these in a row); re2, linear.
_QUOTED = re2.compile(r'"[^"\n]*"')


def delimiters(row: str, delimiter: str) -> int:
    """How many C{delimiter}s in C{row} separate its fields (not those inside a quoted field: "called back, ok")."""
    if '"' in row:
        row = _QUOTED.sub("", row)
    return row.count(delimiter)


def _cells(row: str, delimiter: str) -> list[str]:
    """The fields of a header row, a delimiter inside a quoted field kept in its field."""
    if '"' not in row:
        return row.split(delimiter)
    cells = [""]
    quoted = False
    for ch in row:
        if ch == '"':
            quoted = not quoted
        elif ch == delimiter and not quoted:
            cells.append("")
            continue
        cells[-1] += ch
    return cells


def label_near(text: str, start: int, label: re2._Regexp, tables: Tables | None = None) -> bool:
    """
    Whether the value at C{start} of C{text} has its label near: words before it on its line
    (a member or key name, "SSN (US): ", XML's <ssn>), the header of its column (CSV, TSV, a
    Markdown table), or its column in an SQL INSERT. C{tables} remembers one text's table headers.
    """
    line_start = text.rfind("\n", max(0, start - MAX_ROW), start) + 1
    if line_start == 0 and start > MAX_ROW:
        line_start = -1  # deep into a long line: in no table row
    before = text[max(line_start, start - REACH):start]
    matches = list(label.finditer(before))  # the label nearest the value counts
    if matches:
        gap = before[matches[-1].end():]
        cut = 0
        while cut < min(len(gap), 24) and gap[cut] in _IDENTIFIER:
            cut += 1  # the rest of the label's identifier: ssn_full, SOCIAL_SECURITY_NO
        if connected(gap[cut:]):
            return True
    if line_start < 0:
        return False
    header = column_header(text, line_start, start, tables or Tables(text))
    return header is not None and label.search(header) is not None


def connected(gap: str) -> bool:
    """Whether the text between a label and its value joins them: one clause, few other words."""
    if any(ch.isdigit() or ch in ";,\n" for ch in gap) or _SENTENCE_END.search(gap):
        return False
    words = _WORD.findall(_TAG.sub(" ", gap))
    others = sum(w.lower() not in CONNECTING_WORDS for w in words)
    return len(words) <= MAX_WORDS and others <= OTHER_WORDS


def column_header(text: str, line_start: int, start: int, tables: Tables) -> str | None:
    """The header cell above the value at C{start}, or its SQL column name; None outside a table."""
    line_end = text.find("\n", start, line_start + MAX_ROW)
    if line_end < 0:
        if line_start + MAX_ROW < len(text):
            return None  # longer than any row
        line_end = len(text)
    line = text[line_start:line_end]
    at = start - line_start
    if line.lstrip().startswith("|"):
        cells = tables.header(line_start, "|", 0).split("|")
        column = line[:at].count("|")
        return cells[column] if column < len(cells) else None
    lowered = line[:at].lower()
    values = lowered.rfind("values")
    if values >= 0 and "insert" in lowered:
        return _sql_column(line, values, at)
    for delimiter in ("\t", ",", ";"):
        if delimiter in line:
            cells = _cells(tables.header(line_start, delimiter, delimiters(line, delimiter)), delimiter)
            column = delimiters(line[:at], delimiter)
            return cells[column] if column < len(cells) else None
    return None


def _sql_column(line: str, values: int, at: int) -> str | None:
    """INSERT INTO t (a, b) VALUES ('x', 'y'): the column name of the value at C{at}."""
    close = line.rfind(")", 0, values)
    open_ = line.rfind("(", 0, close)
    first = line.find("(", values)
    if open_ < 0 or close < 0 or first < 0 or first > at:
        return None
    index = 0
    quoted = False
    for ch in line[first + 1:at]:
        if ch == "'":
            quoted = not quoted
        elif ch == "," and not quoted:
            index += 1
    names = line[open_ + 1:close].split(",")
    return names[index] if index < len(names) else None
