"""Reports of a flow-test run: readable failures for people, JUnit XML for CI."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from ivr.runtime.flowtest.runner import CaseResult


def describe_failure(result: CaseResult) -> str:
    """The failures, then every prompt heard with the one the failing step met marked."""
    lines = [f"FAIL {result.test.span}: {result.test.name}"]
    lines += [f"  {failure}" for failure in result.failures]
    lines.append("  prompts heard:")
    for number, text in enumerate(result.heard):
        mark = ">" if number == (result.failed_prompt or 0) - 1 and result.failed_step else " "
        lines.append(f"  {mark} {number + 1:>2}. {text}")
    if not result.heard:
        lines.append("     (none)")
    if result.failed_step is not None and result.failed_prompt == len(result.heard):
        lines.append(f"  >     (the step `{result.failed_step.describe()}` was waiting here)")
    if result.path:
        lines.append("  path: " + " -> ".join(v.node for v in result.path))
    return "\n".join(lines)


def junit_xml(results: Sequence[CaseResult]) -> str:
    suites = ET.Element("testsuites", name="ivr test")
    by_file: dict[str, list[CaseResult]] = {}
    for result in results:
        by_file.setdefault(result.test.span.file, []).append(result)
    for file, cases in by_file.items():
        failures = sum(1 for c in cases if not c.passed)
        suite = ET.SubElement(suites, "testsuite", name=file, tests=str(len(cases)), failures=str(failures))
        for case in cases:
            element = ET.SubElement(
                suite, "testcase", name=case.test.name, classname=file, time=f"{case.seconds:.3f}"
            )
            if not case.passed:
                failure = ET.SubElement(element, "failure", message=case.failures[0])
                failure.text = describe_failure(case)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)
