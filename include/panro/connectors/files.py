"""Readers of the drop-folder sources (sources.md §2-§4, §6, §7): bytes in, ``(line_no, row)`` out.

A reader refuses a file whole (``RefusedFile``, naming the file and the problem) when it cannot be
read as the contract says: wrong encoding, wrong header, a truncated file. It does not judge values:
a row with a bad BRN or date is data, landed as received, and judged later. Values stay text.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time
from xml.etree.ElementTree import ParseError

Row = tuple[int, dict[str, str]]


class RefusedFile(ValueError):
    """The file as a whole cannot be read; the message names the file and the problem."""


def _decode(data: bytes, name: str, encoding: str) -> str:
    if not data.strip():
        raise RefusedFile(f"{name}: empty file")
    if encoding == "cp949":
        if data.startswith(b"\xef\xbb\xbf"):
            raise RefusedFile(f"{name}: starts with a UTF-8 byte-order mark, the contract says CP949")
        # UTF-8 Hangul can decode as (wrong) CP949 text: recognise a UTF-8 file before trying.
        try:
            data.decode("utf-8")
            if any(b > 0x7F for b in data):
                raise RefusedFile(f"{name}: the file is UTF-8, the contract says CP949")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig" if encoding == "utf-8" else encoding)
    except UnicodeDecodeError as exc:
        raise RefusedFile(
            f"{name}: not {encoding.upper()} (byte {exc.start}: {data[exc.start : exc.start + 2]!r})"
        ) from exc


def read_csv(data: bytes, name: str, header: Sequence[str], encoding: str = "utf-8") -> Iterator[Row]:
    """The rows under the checked header, blank lines skipped. The encoding, the file's end and the
    header are checked at once; the rows are parsed as they are taken, so a snapshot of 400,000 rows is
    never held as a list. A line with the wrong number of fields raises ``RefusedFile`` when it is
    reached: the load that copies the rows is one transaction, so the file still lands whole or not
    at all."""
    text = _decode(data, name, encoding)
    if not text.endswith(("\n", "\r")):
        raise RefusedFile(f"{name}: does not end with a line break (truncated file?)")
    reader = csv.reader(io.StringIO(text, newline=""))
    found = [_header_text(h) for h in next(reader)]
    if found != list(header):
        raise RefusedFile(f"{name}: header is {found}, expected {list(header)}")
    return _csv_rows(reader, name, list(header))


# A line with any character but blanks, commas and quotes is a record the CSV reader does not skip.
_HAS_CONTENT = re.compile(rb'[^ \t\r,"]')


def blank_repeated_lines(data: bytes, previous: bytes) -> tuple[bytes, int]:
    """``data`` (a snapshot) with every line that is also a record line of ``previous`` (an earlier
    snapshot of the same list, loaded whole) left blank, and how many lines were blanked.

    A repeated line is the same record, so it has the same content hash and raw holds it already:
    blanking it spares parsing, hashing and copying the rows a daily snapshot repeats, while the line
    numbers of the new rows stay those of the file (the reader skips blank lines). Only for files
    whose every line is one record: no line break inside a quoted field (every line has an even
    number of quotes) and none but CRLF or LF. Otherwise ``data`` is returned as it is."""
    lines, previous_lines = data.split(b"\n"), previous.split(b"\n")
    if not (_one_record_a_line(data, lines) and _one_record_a_line(previous, previous_lines)):
        return data, 0
    known = {line for line in previous_lines[1:] if _HAS_CONTENT.search(line)}
    del previous_lines
    blanked = 0
    for i in range(1, len(lines)):  # the header (line 1) is checked by the reader
        if lines[i] in known:
            lines[i] = b""
            blanked += 1
    return b"\n".join(lines), blanked


def _one_record_a_line(data: bytes, lines: list[bytes]) -> bool:
    if data.count(b"\r") != data.count(b"\r\n"):
        return False
    return b'"' not in data or all(line.count(b'"') % 2 == 0 for line in lines)


def _csv_rows(reader, name: str, header: list[str]) -> Iterator[Row]:
    for values in reader:
        line_no = reader.line_num
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) != len(header):
            raise RefusedFile(f"{name}: line {line_no} has {len(values)} fields, expected {len(header)}")
        yield line_no, dict(zip(header, values, strict=True))


def _header_text(value: str) -> str:
    """A header cell as compared with the contract: trimmed, Hangul composed (NFC). A header typed on a
    Mac arrives decomposed (NFD): it looks the same, and is the same column."""
    return unicodedata.normalize("NFC", value.strip())


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_xlsx(data: bytes, name: str, sheet: str, header: Sequence[str]) -> list[Row]:
    """Rows of ``sheet`` under its header row; title rows above the header (merged or not) are
    skipped, blank rows dropped. Date cells become ISO text; typed text stays as typed."""
    from openpyxl import load_workbook

    if not data:
        raise RefusedFile(f"{name}: empty file")
    try:
        return _read_sheet(
            load_workbook(io.BytesIO(data), read_only=True, data_only=True), name, sheet, header
        )
    except RefusedFile:
        raise
    except _BROKEN_ZIP as exc:
        raise RefusedFile(
            f"{name}: not a readable XLSX workbook (truncated?): {type(exc).__name__}: {exc}"
        ) from exc


# What a cut-short or corrupt workbook raises, at opening or while rows are read.
_BROKEN_ZIP = (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError, zlib.error, ParseError)


def _read_sheet(workbook, name: str, sheet: str, header: Sequence[str]) -> list[Row]:
    try:
        if sheet not in workbook.sheetnames:
            raise RefusedFile(f"{name}: no sheet {sheet!r} (sheets: {workbook.sheetnames})")
        expected = list(header)
        rows: list[Row] = []
        header_at = None
        for row_no, values in enumerate(workbook[sheet].iter_rows(values_only=True), start=1):
            texts = [_cell_text(v) for v in values]
            if header_at is None:
                if [_header_text(t) for t in texts[: len(expected)]] == expected:
                    header_at = row_no
                elif row_no > 10:
                    break
                continue
            if all(not t.strip() for t in texts):
                continue
            texts = (texts + [""] * len(expected))[: len(expected)]
            rows.append((row_no, dict(zip(expected, texts, strict=True))))
        if header_at is None:
            raise RefusedFile(f"{name}: no header row {expected} in the first 10 rows of {sheet!r}")
        return rows
    finally:
        workbook.close()
