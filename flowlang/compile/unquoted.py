"""Text written where an expression is expected, without the inner quotes it needs.

Flow authors write `name: 张三` or `to: sip:expert@127.0.0.1` meaning text, but these
fields hold expressions, where text is `'张三'`. The expression parser can only say
"undeclared name '张三'" or "unexpected ':'"; this module recognises the value as text
(Chinese characters, a `scheme:` address, an e-mail address) and says what to type in YAML.
Names in the language are ASCII, so an expression that reads a non-ASCII name is text.
"""

from __future__ import annotations

import re

from ivr.flowlang.diagnostics import Span
from ivr.flowlang.expressions import Expr, ExpressionError, names_used
from ivr.flowlang.expressions.positions import span_at

_ADDRESS = re.compile(r"^[A-Za-z][\w+.-]*:[^\s:]|^[\w.+-]+@[\w-]+(\.[\w-]+)+$")


def looks_like_text(text: str) -> bool:
    """Unquoted text such as 您好，欢迎 or sip:a@b, as opposed to a mistyped expression."""
    stripped = text.strip()
    if not stripped or "'" in stripped or '"' in stripped:
        return False
    return bool(_ADDRESS.match(stripped)) or any(_is_wide_letter(ch) for ch in stripped)


def _is_wide_letter(ch: str) -> bool:
    return not ch.isascii() and (ch.isalpha() or "\u3000" <= ch <= "\u9fff")


def text_error(text: str, key: str | int, origin: Span) -> ExpressionError:
    """FL201 for text written without inner quotes, with the YAML to type."""
    shown = text.strip()
    what = f"`{key}`" if isinstance(key, str) else "this value"
    return ExpressionError(
        f"{what} holds an expression, and `{shown}` is text without quotes",
        span_at(origin, text, len(text) - len(text.lstrip())),
        f"""write the text in quotes inside the YAML value: {key}: "'{shown}'\"""",
    )


def non_ascii_name(expr: Expr) -> str | None:
    """The first name read by `expr` that cannot be a variable (names are ASCII)."""
    for name in names_used(expr):
        if not name.name.isascii():
            return name.name
    return None
