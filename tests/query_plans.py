"""Checking that queries read through indexes: SQLite's plan of every statement a piece of
code ran, and the steps that would read a whole table. Reports and the customer's history
use it (a table scan there would stall the calls writing beside them)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def traced(conn: sqlite3.Connection) -> Iterator[list[str]]:
    """The statements run on `conn` inside the block."""
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        yield statements
    finally:
        conn.set_trace_callback(None)


def plan(conn: sqlite3.Connection, statement: str) -> list[str]:
    return [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}")]


def table_scans(conn: sqlite3.Connection, statements: list[str]) -> list[tuple[str, list[str]]]:
    """The statements whose plan reads a table or an index from end to end (`SCAN`), or
    searches without an index."""
    bad = []
    for statement in statements:
        steps = plan(conn, statement)
        if not steps or any(not (step.startswith("SEARCH") and "USING" in step) for step in steps):
            bad.append((statement, steps))
    return bad
