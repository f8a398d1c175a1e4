"""The `ivr test` runner: `*.test.yaml` files -> calls on MockClock -> report and coverage.

Stages, one module each: `loader` (YAML to `model`, positioned diagnostics), `runner`
(one test as a call plus a scripted caller), `checks` (the `expect:` block), `coverage`,
`report` (text and JUnit XML) and `suite` (files and projects).
"""

from ivr.runtime.flowtest.suite import SuiteResult, find_test_files, run_files

__all__ = ["SuiteResult", "find_test_files", "run_files"]
