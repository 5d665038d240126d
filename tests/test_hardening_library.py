"""Bad input to the library and the CLI ends in one clear line (issue 15, library items)."""

from __future__ import annotations

from pathlib import Path

import pytest

import manifold_lab as ml
from manifold_lab.cli import main


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("r.csv", bytes(range(256)) * 4, "not UTF-8 text"),
        ("r.json", b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not UTF-8 text"),
        ("r.json", b"[1, 2, 3]", "expected a JSON object"),
        ("r.csv", b'# provenance: {"a": \n1,2\n', "provenance line"),
        ("r.csv", b"", "not a readable CSV"),
    ],
)
def test_read_results_refuses_a_file_that_is_not_results(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        ml.read_results(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
