"""The two exceptions of the expression language: one for the compiler, one for run time.

`ExpressionError` is raised while parsing (parser.py, templates.py); the flow loader turns it
into a `Diagnostic`. `EvaluationError` is raised by evaluator.py and templates.py while a call
runs; the engine takes the node's `on_error` edge. `ValueProblem` is internal: functions and
formatters raise it without knowing where they were called, and the evaluator adds the span.
"""

from __future__ import annotations

from ivr.flowlang.diagnostics import Diagnostic, Severity, Span

SYNTAX_ERROR = "FL201"
TEMPLATE_ERROR = "FL202"


class ExpressionError(Exception):
    """An expression or template does not parse. Fix the text at `span`; `hint` says how."""

    def __init__(self, message: str, span: Span, hint: str | None = None, code: str = SYNTAX_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint
        self.code = code

    def __str__(self) -> str:
        return f"{self.span}: {self.message}" + (f" ({self.hint})" if self.hint else "")

    def to_diagnostic(self) -> Diagnostic:
        """The same problem as a `Diagnostic`, ready to be ranked with the others."""
        return Diagnostic(self.code, Severity.ERROR, self.message, self.span, self.hint)


class EvaluationError(Exception):
    """An expression failed while a call ran (wrong type, division by zero, missing value).

    The engine treats it like any expected failure: it follows the node's error edge.
    """

    def __init__(self, message: str, span: Span) -> None:
        super().__init__(message)
        self.message = message
        self.span = span

    def __str__(self) -> str:
        return f"{self.span}: {self.message}"


class MissingValueError(EvaluationError):
    """A name, field or item that is not there (or a field read on null).

    `default(x, fallback)` catches exactly this kind of failure and gives the fallback.
    """


class ValueProblem(Exception):
    """Raised by function and formatter implementations; the evaluator adds the span."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
