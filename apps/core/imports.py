"""Data import: ``manage.py import_data <resource> <file>`` and the admin's import pages.

All or nothing: every row is checked first and every bad row is reported with its line number
(the header is line 1); only a file without errors is written, in one transaction, set-based.
Rows are matched by their code, so importing the same file again changes nothing.

Each app declares an ``Importer`` per resource in its ``imports.py`` and registers it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from .bulk import UpsertResult
from .errors import CoreErrorCode, DomainError

MAX_REPORTED_ERRORS = 1000


@dataclass(frozen=True)
class RowError:
    line: int
    message: str
    column: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class RowInvalid(Exception):
    """Raised by ``Importer.clean_row`` for a bad value."""

    def __init__(self, message: str, column: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


class ImportFailed(DomainError):
    code = CoreErrorCode.IMPORT_INVALID
    status = 400
    title = _("The file has errors; nothing was imported")

    def __init__(self, row_errors: list[RowError]) -> None:
        self.row_errors = row_errors
        super().__init__(f"{len(row_errors)} row error(s); nothing was imported")


@dataclass
class ImportResult:
    resource: str
    rows: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_upsert(cls, resource: str, rows: int, result: UpsertResult) -> ImportResult:
        return cls(resource, rows, result.created, result.updated, result.unchanged)

    def __str__(self) -> str:
        text = (
            f"{self.resource}: {self.rows} rows, {self.created} created, "
            f"{self.updated} updated, {self.unchanged} unchanged"
        )
        return "; ".join([text, *self.notes])


@dataclass(frozen=True)
class Row:
    line: int
    values: Any


class Importer:
    """One importable resource. Subclasses set ``resource``/``columns`` and implement the hooks."""

    resource: ClassVar[str]
    columns: ClassVar[tuple[str, ...]]
    optional_columns: ClassVar[tuple[str, ...]] = ()
    #: Columns that identify a row; a second row with the same key is an error.
    key_columns: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **options: Any) -> None:
        self.options = options

    def clean_row(self, raw: dict[str, str]) -> Any:
        """Parse one row's strings into values; raise ``RowInvalid`` for a bad value."""
        raise NotImplementedError

    def validate(self, rows: list[Row]) -> list[RowError]:
        """Checks across rows and against the database (unknown references), set-based."""
        return []

    def write(self, rows: list[Row]) -> ImportResult:
        """Write the cleaned rows; runs inside the import's transaction."""
        raise NotImplementedError


_REGISTRY: dict[str, type[Importer]] = {}


def register(importer: type[Importer]) -> type[Importer]:
    _REGISTRY[importer.resource] = importer
    return importer


def importer_for(resource: str) -> type[Importer]:
    try:
        return _REGISTRY[resource]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ImportFailed([RowError(0, f"unknown resource {resource!r}; known: {known}")]) from None


def registered_resources() -> list[str]:
    return sorted(_REGISTRY)


def _read_csv(stream: BinaryIO) -> Iterator[list[str]]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    yield from csv.reader(text)


def _read_xlsx(stream: BinaryIO) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    workbook = load_workbook(stream, read_only=True, data_only=True)
    sheet = workbook.worksheets[0]
    for values in sheet.iter_rows(values_only=True):
        yield ["" if v is None else (v.isoformat() if hasattr(v, "isoformat") else str(v)) for v in values]


def read_table(stream: BinaryIO, filename: str) -> Iterator[list[str]]:
    """Rows of a CSV or XLSX file (by its extension), header first."""
    if Path(filename).suffix.lower() in {".xlsx", ".xlsm"}:
        return _read_xlsx(stream)
    return _read_csv(stream)


def _rows_from_table(importer: Importer, table: Iterable[list[str]]) -> tuple[list[Row], list[RowError]]:
    iterator = iter(table)
    try:
        header = [h.strip().lower() for h in next(iterator)]
    except StopIteration:
        return [], [RowError(1, "the file is empty (a header row is required)")]
    missing = [c for c in importer.columns if c not in header]
    if missing:
        return [], [RowError(1, f"missing column(s): {', '.join(missing)}")]
    wanted = [c for c in (*importer.columns, *importer.optional_columns) if c in header]
    positions = [(c, header.index(c)) for c in wanted]
    rows: list[Row] = []
    errors: list[RowError] = []
    seen: dict[tuple, int] = {}
    width = len(header)
    for line, cells in enumerate(iterator, start=2):
        if not any(cell.strip() for cell in cells):
            continue  # blank lines (common at the end of spreadsheets) are not rows
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        raw = {c: cells[i].strip() for c, i in positions}
        if importer.key_columns:
            key = tuple(raw.get(c, "").lower() for c in importer.key_columns)
            if key in seen:
                errors.append(RowError(line, f"duplicate of line {seen[key]}"))
                continue
            seen[key] = line
        try:
            rows.append(Row(line, importer.clean_row(raw)))
        except RowInvalid as exc:
            errors.append(RowError(line, exc.message, exc.column))
    return rows, errors


def import_table(resource: str, table: Iterable[list[str]], **options: Any) -> ImportResult:
    """Check every row, then write all of them or none; raise ``ImportFailed`` listing every bad row."""
    importer = importer_for(resource)(**options)
    rows, errors = _rows_from_table(importer, table)
    if rows and not (errors and errors[0].line == 1):  # a bad header makes every row meaningless
        errors += importer.validate(rows)
    if errors:
        raise ImportFailed(sorted(errors, key=lambda e: e.line)[:MAX_REPORTED_ERRORS])
    try:
        with transaction.atomic():
            return importer.write(rows)
    except IntegrityError as exc:
        raise ImportFailed([RowError(0, f"the database refused the file: {exc}")]) from exc


def import_file(resource: str, stream: BinaryIO, filename: str, **options: Any) -> ImportResult:
    return import_table(resource, read_table(stream, filename), **options)
