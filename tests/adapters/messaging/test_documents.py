"""Documents: what a flow may hand to a mail or fax channel, and the PDF made of it (read
back with pypdf: the Chinese text, the table cells, the pages)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from gateways import STATEMENT, pdf_text
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.adapters.errors import ConfigError
from ivr.adapters.messaging.documents import DocumentError, parse_document, plain
from ivr.adapters.messaging.pdf import find_cjk_font, render_pdf


def test_a_statement_mapping_becomes_sections_and_tables() -> None:
    document = parse_document({**STATEMENT, "body": "第一段\n\n第二段\n接着"})
    assert document.title == "对账单 Statement 2026-11" and document.filename == "statement-80000001.pdf"
    assert document.paragraphs == ("第一段", "第二段\n接着")
    [section] = document.sections
    assert section.table is not None and section.table.rows == (
        ("2026-11-02", "买入 bought", "贵州茅台", "100", "-149950.00"),
    )


def test_text_becomes_a_document_with_the_given_title() -> None:
    document = parse_document("line one\n\nline two", default_title="对账单")
    assert (document.title, document.paragraphs, document.filename) == (
        "对账单",
        ("line one", "line two"),
        "document.pdf",
    )


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ({"title": "t", "pages": 3}, "unknown document field(s) pages"),
        ({"title": 5}, "the title must be text, not int"),
        ({"title": "t", "sections": "x"}, "`sections` is a list"),
        ({"title": "t", "sections": [{"heading": "h", "chart": 1}]}, "section 1 has unknown field(s) chart"),
        ({"title": "t", "sections": [{"table": {"rows": []}}]}, "needs `columns`"),
        (
            {"title": "t", "sections": [{"table": {"columns": ["a"], "rows": [[{"x": 1}]]}}]},
            "a cell must be text",
        ),
        ({"title": "t", "body": "x" * 200_001}, "more than 200,000 characters"),
        (
            {"title": "t", "sections": [{"table": {"columns": ["a"] * 10, "rows": [["1"] * 10] * 2001}}]},
            "more than 20,000 cells",
        ),
    ],
)
def test_a_document_that_cannot_be_rendered_says_why(value: object, error: str) -> None:
    with pytest.raises(DocumentError, match=error.replace("(", r"\(").replace(")", r"\)")):
        parse_document(value)


def test_plain_keeps_numbers_exact_as_text() -> None:
    assert plain({"rows": [[Decimal("1499.50"), 100, True, None]]}) == {
        "rows": [["1499.50", "100", True, None]]
    }


def test_the_pdf_holds_the_chinese_text_and_every_row_across_pages() -> None:
    rows = [
        [f"2026-11-{d:02d}", "卖出 sold", "中国平安", str(d * 100), f"{d * 1234.5:.2f}"] for d in range(1, 29)
    ] * 3
    document = parse_document(
        {
            "title": "对账单 Statement 2026-11",
            "subtitle": "账户 31000002",
            "body": "尊敬的客户：以下是您本月的对账单。",
            "sections": [
                {
                    "heading": "交易明细 Transactions",
                    "table": {"columns": ["日期", "摘要", "名称", "数量", "金额"], "rows": rows},
                }
            ],
            "footer": "本对账单由95500客户服务中心生成。",
        }
    )
    text = pdf_text(render_pdf(document, find_cjk_font()))
    assert "尊敬的客户：以下是您本月的对账单。" in text and "本对账单由95500客户服务中心生成。" in text
    assert text.count("中国平安") == len(rows) and "34566.00" in text
    assert "1/2" in text or "1/3" in text  # page numbers: the table ran over


def test_a_font_that_is_not_there_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"IVR_PDF_FONT=.*no such font file"):
        find_cjk_font({"IVR_PDF_FONT": str(tmp_path / "missing.ttc")})


_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(
        _text,
        st.fixed_dictionaries(
            {"title": _text},
            optional={
                "body": _text,
                "sections": st.lists(
                    st.fixed_dictionaries({}, optional={"heading": _text, "body": _text}), max_size=3
                ),
            },
        ),
        st.integers(),
        st.lists(_text),
    )
)
def test_any_value_is_a_document_or_a_document_error(value: object) -> None:
    try:
        document = parse_document(value)
    except DocumentError:
        return
    assert document.title and document.filename.endswith(".pdf") and "/" not in document.filename
