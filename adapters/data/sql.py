"""The `sql` backend: an operation is one statement (or a list run in one transaction).

Service file keys: `query` (text, or a list of texts), `database` (URL or path; defaults to
the `database_url` given at start-up), `one: true` (answer one row as a dict, or None).
An operation whose last statement returns rows answers a list of dicts (`one`: a dict or
None; more than one row is an error); one that returns no rows answers
`{"rows_affected": n}`. Arguments are bound to `:name` placeholders, never formatted in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ivr.adapters.data.errors import BackendFailure, ServiceConfigError
from ivr.adapters.data.sqldatabase import Database, Databases, Outcome
from ivr.adapters.data.sqlvalues import bind_args, is_write, placeholders
from ivr.flowlang.ir import OperationDecl

SQL_KEYS = frozenset({"query", "database", "one"})


class SqlBackend:
    """One declared SQL operation on its (shared) database."""

    def __init__(self, database: Database, statements: Sequence[str], *, one: bool) -> None:
        self._database = database
        self._statements = tuple(statements)
        self._write = any(is_write(s) for s in statements)
        self._one = one

    async def attempt(self, args: Mapping[str, object]) -> object:
        outcome = await self._database.execute(self._statements, bind_args(args), write=self._write)
        return self._answer(outcome)

    def _answer(self, outcome: Outcome) -> object:
        if outcome.rows is None:
            return {"rows_affected": outcome.rowcount}
        if not self._one:
            return outcome.rows
        if len(outcome.rows) > 1:
            raise BackendFailure(f"expected at most one row, got {len(outcome.rows)}", retryable=False)
        return outcome.rows[0] if outcome.rows else None


def build_sql(decl: OperationDecl, default_url: str | None, databases: Databases) -> SqlBackend:
    """Check the declaration and bind it to its database; raise `ServiceConfigError`."""
    problems: list[str] = []
    statements = _statements(decl.config.get("query"), problems)
    one = decl.config.get("one", False)
    if not isinstance(one, bool):
        problems.append(f"'one' must be true or false, not {one!r}")
    for statement in statements:
        if unknown := placeholders(statement) - set(decl.params):
            problems.append(f"query uses undeclared parameter(s) {', '.join(sorted(unknown))}")
    url = decl.config.get("database", default_url)
    database = None
    if not isinstance(url, str) or not url:
        problems.append("no database: give 'database:' or start the server with a database URL")
    else:
        try:
            database = databases.get(url)
        except ValueError as exc:
            problems.append(str(exc))
    if problems or database is None:
        raise ServiceConfigError(problems)
    return SqlBackend(database, statements, one=bool(one))


def _statements(query: object, problems: list[str]) -> list[str]:
    if isinstance(query, str) and query.strip():
        return [query]
    if isinstance(query, list | tuple) and query and all(isinstance(q, str) and q.strip() for q in query):
        return [str(q) for q in query]
    problems.append("missing 'query' (an SQL statement, or a list of them)")
    return []
