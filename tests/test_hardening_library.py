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


def test_open_images_refuses_an_empty_source(capsys: pytest.CaptureFixture) -> None:
    # d221fa1 read the current directory recursively
    for source in ("", "  "):
        with pytest.raises(ValueError, match="source name or a path"):
            ml.open_images(source)
    assert main(["eval", "--weights", "builtin", "--images", "", "--no-progress"]) == 2
    assert "images must be a source name or a path" in capsys.readouterr().err


def test_cli_sweep_refuses_an_output_suffix_it_cannot_write(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "x.xlsx"
    argv = ["sweep", "--widths", "3", "--seeds", "0", "--n-samples", "50", "--out", str(out)]
    assert main([*argv, "--metrics", "nmse", "--no-progress"]) == 2
    assert "--out must end in .csv or .json" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("spec", ["3,,5", "3,5,", ",3", "0:2,,4"])
def test_an_empty_item_in_widths_or_seeds_is_an_error(
    spec: str, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(ValueError, match="widths has an empty item"):
        ml.sweep(widths=spec, seeds=0, n_samples=50, metrics=["nmse"], progress=False)
    with pytest.raises(ValueError, match="seeds has an empty item"):
        ml.sweep(widths=3, seeds=spec, n_samples=50, metrics=["nmse"], progress=False)
    argv = ["sweep", "--widths", spec, "--seeds", "0", "--n-samples", "50", "--no-progress"]
    assert main(argv) == 2
    assert "widths has an empty item" in capsys.readouterr().err


def test_phase_dims_error_talks_about_dimensions(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["phase", "--dims", "0:2", "--out", str(tmp_path / "p.png")]) == 2
    err = capsys.readouterr().err
    assert "dimension k must be an integer >= 1, got 0" in err and "width" not in err


@pytest.mark.parametrize("command", ["sweep", "curves", "phase", "figure1"])
def test_n_seeds_must_be_a_positive_integer(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = [command, "--n-seeds", "-2"]
    if command != "sweep":
        argv += ["--out", str(tmp_path / "f.png")]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--n-seeds: must be a positive integer, got '-2'" in err and "range(" not in err


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("lr=abc", "lr must be a finite number in (0, 10], got 'abc'"),
        ("momentum=fast", "momentum must be a finite number in [0, 1), got 'fast'"),
        ("epochs=2.5", "epochs must be an integer >= 1, got 2.5"),
        ("amp=3", "amp must be true or false, got 3"),
    ],
)
def test_train_set_with_a_value_of_the_wrong_type_says_what_is_wrong(
    item: str, message: str, capsys: pytest.CaptureFixture
) -> None:
    assert main(["train", "--set", item]) == 2
    err = capsys.readouterr().err
    assert message in err and "not supported between" not in err


def test_train_resume_without_a_run_says_there_is_none(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run_dir = tmp_path / "runs" / "nothing"
    argv = ["train", "--resume", "--run-dir", str(run_dir), "--data-root", str(tmp_path)]
    assert main([*argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"there is no run to resume in {run_dir}" in err and "CIFAR" not in err
    assert not run_dir.exists()
