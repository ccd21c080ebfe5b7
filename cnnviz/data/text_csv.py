"""Labelled texts from an uploaded CSV file: decoded, size-capped, every bad file refused with a message."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable

from cnnviz.errors import DatasetUnavailableError

# --- CSV uploads -------------------------------------------------------------------------------

def _decode_csv(data: bytes, max_bytes: int) -> str:
    """The text of an uploaded CSV: UTF-8 (a BOM is fine), UTF-16 with a BOM, else Latin-1 (never fails)."""
    if not data or not data.strip():
        raise DatasetUnavailableError("The file is empty.")
    if len(data) > max_bytes:
        raise DatasetUnavailableError(f"The file is {len(data) / 2**20:.1f} MB; the limit is "
                                      f"{max_bytes / 2**20:.0f} MB.")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheets often save Latin-1 / Windows-1252; Latin-1 decodes any bytes at all.
        return data.decode("latin-1")


def _reader(text: str) -> Iterable[list[str]]:
    """A csv reader over the text; the delimiter (, ; tab |) is the one most frequent in the header line."""
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    delimiter = max(counts, key=lambda d: (counts[d], d == ","))
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter if counts[delimiter] else ",")


def _header(rows: Iterable[list[str]]) -> list[str]:
    try:
        for row in rows:
            if any(cell.strip() for cell in row):
                return [cell.strip() for cell in row]
    except csv.Error as exc:
        raise DatasetUnavailableError(f"The file is not a CSV table that can be read: {exc}") from exc
    raise DatasetUnavailableError("The file is empty.")


def csv_columns(data: bytes, *, max_bytes: int = 20 * 2**20) -> list[str]:
    """The column names in the first (header) row of an uploaded CSV file.

    Raises `DatasetUnavailableError` with a message for the user for an empty or too
    large file.
    """
    return _header(_reader(_decode_csv(data, max_bytes)))


def texts_from_csv(data: bytes, *, text_column: str, label_column: str, max_rows: int = 50000,
                   max_bytes: int = 20 * 2**20) -> tuple[list[str], list[str]]:
    """Texts and labels (as strings) from the two named columns of an uploaded CSV file with a header row.

    Decoding: UTF-8 (with or without BOM), UTF-16 with a BOM, else Latin-1. The
    delimiter may be a comma, semicolon, tab or "|". Labels are stripped of spaces;
    rows with an empty label and blank lines are skipped; a missing text cell is "".
    Raises `DatasetUnavailableError` with a message for the user when the file is
    empty, over `max_bytes`, has more than `max_rows` data rows, lacks a column, or
    has no labelled rows.
    """
    rows = iter(_reader(_decode_csv(data, max_bytes)))
    columns = _header(rows)
    missing = [c for c in (text_column, label_column) if c not in columns]
    if missing:
        raise DatasetUnavailableError(
            f"The file has no column {', '.join(repr(c) for c in missing)}; its columns are: "
            f"{', '.join(repr(c) for c in columns)}.")
    t, y = columns.index(text_column), columns.index(label_column)
    texts, labels = [], []
    count = 0
    try:
        for row in rows:
            if not any(cell.strip() for cell in row):
                continue
            count += 1
            if count > max_rows:
                raise DatasetUnavailableError(f"The file has more than {max_rows:,} rows; the limit is "
                                              f"{max_rows:,}. Keep a sample of it.")
            label = row[y].strip() if y < len(row) else ""
            if label:
                texts.append(row[t] if t < len(row) else "")
                labels.append(label)
    except csv.Error as exc:
        raise DatasetUnavailableError(f"Row {count + 1} of the file cannot be read as CSV: {exc}") from exc
    if not labels:
        raise DatasetUnavailableError(f"The file has no rows with a label in column {label_column!r}.")
    return texts, labels
