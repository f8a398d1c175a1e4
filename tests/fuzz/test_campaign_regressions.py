"""Cases the million-case campaign (`scripts/fuzz.py`) found, replayed through their target
within its own time limit (a bound on hangs and on work that grows faster than the input,
far above what the fixed code takes)."""

from __future__ import annotations

from fuzz_limits import time_limit
from fuzz_targets import BY_NAME, check_service

from ivr.flowlang.yamlsource import load_yaml


def test_a_document_of_twenty_thousand_tags_reads_in_linear_time() -> None:
    """Case service:12:1999: every `!tag` split the whole text into lines to quote its own
    line, so 20,000 tags took 27 s to read (the fixed reader: 0.4 s)."""
    text = "".join(f"- !t{i} x\n" for i in range(20_000))
    with time_limit(BY_NAME["yaml"].time_limit):
        loaded = load_yaml(text, "service.yaml")
        check_service(text.encode())
    assert len(loaded.diagnostics) == 20_000
    assert loaded.diagnostics[-1].span.line == 20_000
