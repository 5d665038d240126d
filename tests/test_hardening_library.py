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


@pytest.fixture(scope="module")
def image_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same 12 CIFAR-10 sample images as PNGs in class folders, once alone ("good") and
    once with a corrupt and a truncated file beside them ("bad")."""
    from PIL import Image

    from manifold_lab.data import cifar10_sample

    sample = cifar10_sample()
    root = tmp_path_factory.mktemp("images")
    for kind in ("good", "bad"):
        for i in range(12):
            image, target = sample[i * 40]
            folder = root / kind / sample.classes[target]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:02d}.png")
    bad = root / "bad"
    first, second = sorted(bad.rglob("*.png"))[:2]
    (first.parent / "03b_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nnot an image at all")
    whole = second.read_bytes()
    (second.parent / "05b_truncated.png").write_bytes(whole[: len(whole) // 3])
    return {"good": root / "good", "bad": bad}


def test_evaluate_skips_unreadable_images_and_keeps_the_others(
    image_folders: dict[str, Path],
) -> None:
    from manifold_lab.data import ImageDecodeError
    from manifold_lab.evaluation import evaluate

    model = ml.load_model("builtin")
    good = evaluate(model, ml.open_images(str(image_folders["good"])), progress=False)
    bad_images = ml.open_images(str(image_folders["bad"]))
    with pytest.warns(UserWarning, match="skipped 2 of 14 images that could not be read"):
        bad = evaluate(model, bad_images, batch_size=5, progress=False)
    assert (bad.n_images, bad.n_labeled, bad.top1, bad.top5) == (
        good.n_images,
        good.n_labeled,
        good.top1,
        good.top5,
    )
    assert good.n_skipped == 0 and bad.n_skipped == 2
    assert {Path(s).name for s in bad.skipped} == {"03b_corrupt.png", "05b_truncated.png"}
    assert bad.to_dict()["n_skipped"] == 2
    with pytest.raises(ImageDecodeError, match=r"03b_corrupt\.png") as info:
        evaluate(model, bad_images, on_error="raise", num_workers=1, progress=False)
    assert "\n" not in str(info.value) and "DataLoader" not in str(info.value)
    with pytest.raises(ValueError, match="on_error must be one of"):
        evaluate(model, bad_images, on_error="ignore", progress=False)


def test_cli_eval_skips_a_corrupt_image_or_stops_in_one_line(
    image_folders: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    argv = ["eval", "--weights", "builtin", "--images", str(image_folders["bad"])]
    with pytest.warns(UserWarning, match="skipped 2"):
        assert main([*argv, "--workers", "1", "--no-progress"]) == 0
    assert "12 (12 labelled, 2 unreadable skipped)" in capsys.readouterr().out
    assert main([*argv, "--workers", "1", "--on-error", "raise", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "cannot decode image file" in err and "03b_corrupt.png" in err
    assert "Traceback" not in err and "worker" not in err


def test_probe_skips_unreadable_images_and_keeps_every_other_statistic(
    image_folders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from manifold_lab.data import ImageDecodeError
    from manifold_lab.probing import probe

    model = ml.load_model("builtin")
    options = {
        "progress": False,
        "pixel_samples": 64,
        "image_samples": 16,
        "rank_pixels_per_batch": 0,
    }
    good = probe(model, ml.open_images(str(image_folders["good"])), **options)
    bad_images = ml.open_images(str(image_folders["bad"]))
    with pytest.warns(UserWarning, match="skipped 2 of 14"):
        bad = probe(model, bad_images, **options)
    assert bad.metadata["n_skipped"] == 2 and good.metadata["n_skipped"] == 0
    assert {Path(s).name for s in bad.metadata["skipped"]} == {
        "03b_corrupt.png",
        "05b_truncated.png",
    }
    assert bad.metadata["n_images"] == good.metadata["n_images"] == 12
    frame_good, frame_bad = good.to_frame(), bad.to_frame()
    assert frame_good.drop(columns="images").equals(frame_bad.drop(columns="images"))
    with pytest.raises(ImageDecodeError, match=r"03b_corrupt\.png"):
        probe(model, bad_images, on_error="raise", **options)
    out = tmp_path / "p.json"
    argv = ["probe", "--weights", "builtin", "--images", str(image_folders["bad"])]
    with pytest.warns(UserWarning, match="skipped 2"):
        assert main([*argv, "--out", str(out), "--rank-pixels", "0", "--no-progress"]) == 0
    assert "12 (2 unreadable skipped)" in capsys.readouterr().out
    assert ml.read_results(out)[1]["parameters"]["n_skipped"] == 2


def test_a_sweep_or_case_too_large_for_the_memory_budget_is_refused_before_it_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import time

    from manifold_lab._memory import MEMORY_LIMIT_ENV, MemoryBudgetError, memory_budget

    assert (memory_budget()[0] or 1) > 0  # what the OS reports, with a margin
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "200M")
    assert memory_budget() == (200_000_000, f"the limit set by {MEMORY_LIMIT_ENV}")
    t0 = time.perf_counter()
    # d221fa1: torch's allocator error about 80 GB
    with pytest.raises(MemoryBudgetError, match=r"needs about \d+\.\d GB .* budget is 200\.0 MB"):
        ml.sweep(widths=[10**7], seeds=0, progress=False)
    # d221fa1: ran for minutes at many GB; here 20x fewer points than the report, same check
    with pytest.raises(MemoryBudgetError, match=r"reduce n_samples \(500000\)"):
        ml.sweep(n_samples=500_000, progress=False)
    with pytest.raises(MemoryBudgetError, match="max_neighbor_points"):
        ml.sweep(n_samples=20_000, max_neighbor_points=None, widths=[3], progress=False)
    with pytest.raises(MemoryBudgetError, match=r"this case .* reduce n_samples or the width"):
        ml.run_case(width=10**7)
    assert time.perf_counter() - t0 < 30
    argv = ["sweep", "--widths", "10000000", "--seeds", "0", "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "budget is 200.0 MB" in err and "Traceback" not in err
    # a normal sweep and case fit in the same budget and are unaffected
    df = ml.sweep(widths=[2, 30], seeds=range(3), n_samples=200, progress=False)
    assert len(df) == 6
    assert ml.run_case(width=15, n_samples=200).Y.shape == (200, 15)
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "lots")
    with pytest.raises(ValueError, match=f"{MEMORY_LIMIT_ENV}='lots' is not a memory size"):
        ml.sweep(widths=[3], seeds=0, n_samples=50, progress=False)
