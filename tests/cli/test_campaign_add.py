"""`ivr campaign add` turns its `--contact FIELD=VALUE ...` into the CSV the server takes
(columns the union of the fields given), and refuses a command line it cannot use before
it reaches any server."""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

import pytest

from ivr.commands import campaign


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    campaign.configure(parser)
    return parser.parse_args(list(argv))


def test_contacts_given_on_the_command_line_become_csv_rows_with_every_field() -> None:
    args = parse(
        "add",
        "june",
        "--contact",
        "key=k1",
        "phone=10900",
        "name=Li Wei",
        "--contact",
        "key=k2",
        "phone=10901",
    )
    rows = list(csv.DictReader(io.StringIO(campaign._added_csv(args).decode())))
    assert rows == [
        {"key": "k1", "phone": "10900", "name": "Li Wei"},
        {"key": "k2", "phone": "10901", "name": ""},
    ]


def test_a_csv_file_is_sent_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "more.csv"
    path.write_text("key,phone\nk1,10900\n")
    assert campaign._added_csv(parse("add", "june", "--contacts", str(path))) == b"key,phone\nk1,10900\n"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("add", "june"), "give the contacts to add"),
        (("add", "june", "--contact", "phone"), "write FIELD=VALUE"),
    ],
)
def test_an_unusable_command_line_is_refused_before_any_server(
    argv: tuple[str, ...], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = campaign.run(parse(*argv, "--server", "http://127.0.0.1:9"))
    assert code == 2 and says in capsys.readouterr().err
