"""One error per mistake: drop diagnostics that only follow from another one already shown.

Each stage of flowlang reports what it sees, so one slip can surface several times: `if: !ok`
is a YAML tag (FL010), then an empty condition to the schema (FL103). Like a compiler, the
project loader keeps the first report and drops its echoes, by two rules:

1. *Explained YAML*: a YAML-stage diagnostic (FL0xx) with a path explains everything at or
   under that path; later stages' reports there are dropped.
2. *Same character, later stage*: an error that starts on the same character as an error
   of an earlier stage (YAML < shape < expressions < checks) is dropped.

Follow-ons that need knowledge of the flow (an edge left out after a parse error, a variable
"unused" because its one reader failed to parse) are avoided where they arise: the compiler
remembers dropped edges and the checks skip verdicts a gap could make false.
"""

from __future__ import annotations

from collections.abc import Iterable

from ivr.flowlang.diagnostics import Diagnostic


def stage(code: str) -> int:
    """0 YAML, 1 shape, 2 expressions, 3 everything checked on the compiled flow."""
    family = code[2:3]
    return int(family) if family in ("0", "1", "2") else 3


def suppress_follow_ons(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    found = list(diagnostics)
    explained = {(d.span.file, d.yaml_path) for d in found if stage(d.code) == 0 and d.yaml_path}
    first_errors: dict[tuple[str, int, int], int] = {}
    for d in found:
        if d.is_error:
            where = (d.span.file, d.span.line, d.span.col)
            first_errors[where] = min(first_errors.get(where, 9), stage(d.code))
    return [d for d in found if not _is_follow_on(d, explained, first_errors)]


def _is_follow_on(
    d: Diagnostic,
    explained: set[tuple[str, tuple[str | int, ...]]],
    first_errors: dict[tuple[str, int, int], int],
) -> bool:
    level = stage(d.code)
    if level > 0 and d.yaml_path:
        path = d.yaml_path
        for length in range(len(path), 0, -1):
            if (d.span.file, path[:length]) in explained:
                return True
    earlier = first_errors.get((d.span.file, d.span.line, d.span.col), 9)
    return earlier < level
