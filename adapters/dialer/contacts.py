"""Contact lists for campaign runs: a CSV file or an SQL query, read into `Contact`s.

Place: `ivr campaign create` and the HTTP API read a campaign's list (`contacts:` in the
service file, or a file given for this run) through here before the runner stores the run.
Every column becomes a field the flow can read (`contact.<column>`); `number` names the
phone number's column and `timezone` the callee's zone. Numbers keep only digits and a
leading `+`; a row without a number, or with a zone the zone database lacks, is refused
with its line, as is a list without a column the campaign's flow needs.
"""

from __future__ import annotations

import csv
import io
import re
import zoneinfo
from collections.abc import Sequence
from pathlib import Path

import trio

from ivr.adapters.data.sqldatabase import open_database
from ivr.adapters.errors import AdapterError
from ivr.flowlang.ir import CampaignDecl, Flow
from ivr.runtime.campaigns.model import Contact

MAX_CONTACTS = 1_000_000
_PUNCTUATION = re.compile(r"[\s().-]")


class ContactListError(AdapterError):
    """The contact list cannot be used: the file or query, the line and what is wrong."""


def clean_number(text: str) -> str | None:
    """`+86 138-0013-8000` -> `+8613800138000`; None when it is not a phone number."""
    number = _PUNCTUATION.sub("", text.strip())
    return number if re.fullmatch(r"\+?[0-9]{2,20}", number) else None


def contacts_from_rows(
    rows: Sequence[dict[str, object]], decl: CampaignDecl, flow: Flow | None, where: str
) -> list[Contact]:
    """Rows (column -> value) as contacts; `where(line)` names a row in errors."""
    source = decl.contacts
    if len(rows) > MAX_CONTACTS:
        raise ContactListError(f"{where}: {len(rows)} contacts; a run takes at most {MAX_CONTACTS:,}")
    needed = [source.number, *([source.timezone] if source.timezone else [])]
    if flow is not None and flow.outbound is not None:
        needed += [d.name for d in flow.outbound.contact if d.required]
    columns = set(rows[0]) if rows else set()
    missing = [name for name in needed if rows and name not in columns]
    if missing:
        raise ContactListError(
            f"{where}: no column {', '.join(missing)} (it has {', '.join(sorted(columns))})"
        )
    contacts: list[Contact] = []
    for index, row in enumerate(rows):
        number = clean_number(str(row.get(source.number) or ""))
        if number is None:
            raise ContactListError(
                f"{where} row {index + 1}: {row.get(source.number)!r} is not a phone number"
            )
        zone = str(row.get(source.timezone) or "") if source.timezone else ""
        if zone and not _is_zone(zone):
            raise ContactListError(
                f"{where} row {index + 1}: {zone!r} is not a time zone (e.g. Asia/Shanghai)"
            )
        contacts.append(Contact(f"c{index + 1}", number, dict(row), zone or None))
    return contacts


def keyed_contacts_from_rows(
    rows: Sequence[dict[str, object]], decl: CampaignDecl, flow: Flow | None, where: str, key: str = "key"
) -> list[Contact]:
    """Rows to add to a running run: as `contacts_from_rows`, each named by its `key`
    column (the caller's idempotency key: the same key added twice is called once)."""
    if rows and key not in rows[0]:
        raise ContactListError(
            f"{where}: no column {key} (each contact added to a run needs a key: the same key "
            "added again is ignored, so a retried add never calls twice)"
        )
    contacts = contacts_from_rows(rows, decl, flow, where)
    keyed: list[Contact] = []
    for index, (row, contact) in enumerate(zip(rows, contacts, strict=True)):
        name = str(row.get(key) or "")
        if not name:
            raise ContactListError(f"{where} row {index + 1}: the {key} column is empty")
        keyed.append(Contact(name, contact.number, contact.fields, contact.timezone))
    return keyed


def read_csv(path: Path) -> list[dict[str, object]]:
    """The rows of a UTF-8 CSV file with a header line (a BOM is allowed)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ContactListError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ContactListError(f"{path}: is not UTF-8 text") from None
    return rows_of_csv(text, str(path))


def rows_of_csv(text: str, where: str) -> list[dict[str, object]]:
    """The rows of CSV text with a header line; `where` names it in errors."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    if not reader.fieldnames:
        raise ContactListError(f"{where}: is empty (a header line such as `phone,name` comes first)")
    rows: list[dict[str, object]] = []
    for row in reader:
        if None in row:
            raise ContactListError(f"{where} line {reader.line_num}: more values than columns")
        rows.append({k.strip(): (v or "").strip() for k, v in row.items()})
    return rows


async def load_contacts(
    decl: CampaignDecl, flow: Flow | None, base_dir: Path, csv_file: Path | None = None
) -> list[Contact]:
    """The campaign's contacts: `csv_file` when given (this run's list), else the CSV file
    or SQL query of its `contacts:` (paths relative to `base_dir`, the service's folder)."""
    source = decl.contacts
    if csv_file is not None or source.csv is not None:
        path = csv_file if csv_file is not None else base_dir / str(source.csv)
        rows = await trio.to_thread.run_sync(read_csv, path)
        return contacts_from_rows(rows, decl, flow, str(path))
    rows = await query_rows(decl, base_dir)
    return contacts_from_rows(rows, decl, flow, f"campaign {decl.name}'s query")


async def query_rows(decl: CampaignDecl, base_dir: Path) -> list[dict[str, object]]:
    """The rows of the campaign's SQL `query:` now (read-only; `database` relative to
    `base_dir`)."""
    source = decl.contacts
    if source.query is None or source.database is None:
        raise ContactListError(f"campaign {decl.name} names no contact list (csv, or query and database)")
    try:
        database = open_database(source.database, base_dir)
    except ValueError as exc:
        raise ContactListError(f"campaign {decl.name}: {exc}") from None
    try:
        outcome = await database.execute([source.query], {}, write=False)
    except AdapterError as exc:
        raise ContactListError(f"campaign {decl.name}: the contacts query failed: {exc}") from None
    finally:
        await database.aclose()
    return [dict(row) for row in outcome.rows or []]


def _is_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True
