from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import manifold_lab as ml
from manifold_lab.cli import main


def test_json_to_stdout_one_record_per_width_and_seed(capsys: pytest.CaptureFixture) -> None:
    rc = main(
        [
            "sweep",
            "--widths",
            "2,3,5",
            "--seeds",
            "0:3",
            "--points",
            "200",
            "--metrics",
            "nmse,invertible_fraction",
            "--format",
            "json",
            "--no-progress",
        ]
    )
    assert rc == 0
    obj = json.loads(capsys.readouterr().out)
    recs = obj["records"]
    assert len(recs) == 3 * 4
    assert {(r["width"], r["seed"]) for r in recs} == {(w, s) for w in (2, 3, 5) for s in range(4)}
    df = ml.sweep(
        "spiral",
        widths=[2, 3, 5],
        seeds=range(4),
        n_samples=200,
        metrics=["nmse", "invertible_fraction"],
        progress=False,
    )
    assert set(recs[0]) == set(df.columns)
    assert obj["provenance"]["parameters"]["seeds"] == [0, 1, 2, 3]


def test_csv_file_with_provenance_roundtrip(tmp_path: Path) -> None:
    out = tmp_path / "res.csv"
    rc = main(
        [
            "sweep",
            "--manifold",
            "ball",
            "--manifold-arg",
            "dim=3",
            "--widths",
            "3:6",
            "--n-seeds",
            "2",
            "--points",
            "150",
            "--activation",
            "relu,relu6",
            "--method",
            "pinv,lstsq",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert rc == 0
    df, prov = ml.read_results(out)
    assert len(df) == 4 * 2 * 2 * 2
    assert prov["parameters"]["manifold_params"]["dim"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["res.csv"]  # no temporary files left
    assert out.stat().st_mode & 0o044  # readable by others, not mkstemp's 0600


def test_summary_flag(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    assert (
        main(
            [
                "sweep",
                "--widths",
                "3",
                "--n-seeds",
                "3",
                "--points",
                "100",
                "--summary",
                "--metrics",
                "nmse",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    df, _ = ml.read_results(out)
    assert {"mean", "ci_low", "ci_high"} <= set(df.columns)


def test_errors_exit_2_with_a_message(capsys: pytest.CaptureFixture) -> None:
    assert main(["sweep", "--manifold", "nope", "--no-progress"]) == 2
    assert "unknown manifold" in capsys.readouterr().err
    assert main(["sweep", "--widths", "0", "--no-progress"]) == 2


def test_installed_command_runs() -> None:
    exe = Path(sys.executable).with_name("manifold-lab")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "manifold_lab.cli"]
    res = subprocess.run(
        [
            *cmd,
            "sweep",
            "--widths",
            "3",
            "--seeds",
            "0",
            "--points",
            "50",
            "--metrics",
            "nmse",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("# provenance: ")


def test_atomic_write_leaves_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "r.csv"
    target.write_text("old")
    df = pd.DataFrame({"a": [1]})
    with pytest.raises(ValueError, match="format"):
        ml.write_results(df, target, fmt="xml")
    assert target.read_text() == "old"
    with pytest.raises(ValueError, match="does not exist"):
        ml.write_results(df, tmp_path / "missing" / "r.csv")
    with pytest.raises(ValueError, match="does not exist"):
        ml.read_results(tmp_path / "nothing.csv")
