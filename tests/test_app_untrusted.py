"""AppTest tests of what strangers can send the explorer: uploads (limits, zip bombs, folder
structure, clean-up, error names), the ablation page's run directory, inconsistent links."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from manifold_lab.data import cifar10_sample
from tests.conftest import APP, run_app

HASHED = re.compile(r"[0-9a-f]{16}")


@pytest.fixture
def uploads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty uploads folder for the explorer (MANIFOLD_LAB_UPLOAD_DIR)."""
    folder = tmp_path / "uploads"
    monkeypatch.setenv("MANIFOLD_LAB_UPLOAD_DIR", str(folder))
    return folder


def _probe(**query: str) -> AppTest:
    return run_app(timeout=240, page="probe", pr_limit="8", **query)


def _png(index: int) -> bytes:
    img = Image.fromarray(cifar10_sample()[index][0].permute(1, 2, 0).numpy())
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _zeros_zip(name: str, n_bytes: int) -> bytes:
    """A zip holding ``n_bytes`` zeros under ``name``, deflated (written in chunks)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open(name, "w") as out:
            for start in range(0, n_bytes, 1 << 22):
                out.write(bytes(min(1 << 22, n_bytes - start)))
    return buf.getvalue()


def _written(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def _upload_zip(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="pr_upload_zip").set_value((name, data, "application/zip"))
    return at.run()


def test_probe_refuses_a_zip_bomb_without_writing_it(uploads: Path) -> None:
    at = _probe(pr_model="random-cifar", pr_images="upload")
    _upload_zip(at, "bomb.zip", _zeros_zip("big.png", 300 * 1_000_000))
    assert not at.exception
    assert [e.value for e in at.error] == [
        "Could not probe: bomb.zip: big.png inflates to 300 MB; the limit is 64 MB per file"
    ]
    assert _written(uploads) == 0
    assert not at.get("progress")


def test_probe_states_the_upload_limits(uploads: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MANIFOLD_LAB_UPLOAD_MAX_FILES", "500")
    at = _probe(pr_model="upload", pr_images="upload")
    texts = [c.value for c in at.sidebar.caption] + [u.proto.help for u in at.get("file_uploader")]
    assert texts and all("500 files" in t and "64 MB per file" in t for t in texts)
    assert all("MANIFOLD_LAB_UPLOAD_MAX_FILES" in t for t in texts)
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w") as zf:
        for i in range(501):
            zf.writestr(f"{i}.png", b"")
    _upload_zip(at, "many.zip", many.getvalue())
    assert any("many.zip holds 501 files; the limit is 500" in e.value for e in at.error)


def test_probe_keeps_the_zips_folders_apart(uploads: Path) -> None:
    """``a/x.png`` and ``b/x.png`` are two images, not one overwritten by the other."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a/x.png", _png(0))
        zf.writestr("b/x.png", _png(1))
    at = _probe(pr_model="random-cifar", pr_images="upload")
    _upload_zip(at, "two.zip", buf.getvalue())
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(" 2 images probed at" in c.value for c in at.caption), [c.value for c in at.caption]


def test_probe_upload_errors_name_the_users_file_and_leave_no_bar(uploads: Path) -> None:
    at = _probe(pr_model="upload", pr_images="cifar10-sample")
    at.file_uploader(key="pr_upload_model").set_value(
        ("my model.pt", b"\x00garbage", "application/octet-stream")
    )
    at.run()
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert "my model.pt" in error and not HASHED.search(error) and str(uploads) not in error
    assert not at.get("progress")  # no empty "Loading the model ..." bar above the error


def test_probe_removes_a_sessions_earlier_uploads(uploads: Path) -> None:
    at = _probe(pr_model="upload", pr_images="upload")
    for name, data in (("a.pt", b"first"), ("b.pt", b"second")):
        at.file_uploader(key="pr_upload_model").set_value((name, data, "application/octet-stream"))
        at.run()
        assert not at.exception
        assert [p.read_bytes() for p in uploads.iterdir()] == [data]  # only the latest
    at.selectbox(key="pr_model").set_value("random-cifar").run()
    assert not at.exception
    assert list(uploads.iterdir()) == []  # removed after use


def test_ablation_run_directory_stays_inside_its_roots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside"
    (outside / "linear_s0").mkdir(parents=True)
    records = [{"epoch": 1, "step": 10, "test_acc": 0.5}]
    (outside / "linear_s0" / "metrics.json").write_text(json.dumps({"records": records}))
    results = APP.parents[1] / "experiments" / "results"
    at = run_app(timeout=240, page="ablation")
    for text in (str(outside), "/etc", str(results / ".." / ".." / "README.md"), "../../.."):
        at.text_input(key="ab_folder").set_value(text).run()
        assert not at.exception
        [error] = [e.value for e in at.error]
        assert "is outside the folders runs are read from" in error, error
        assert "MANIFOLD_LAB_RUNS_ROOT" in error and "\n" not in error
    at.text_input(key="ab_folder").set_value("ablation_cpu_6ep_v1").run()  # relative: found
    assert not at.exception and not at.error
    # a documented setting widens the roots
    monkeypatch.setenv("MANIFOLD_LAB_RUNS_ROOT", str(outside))
    at.text_input(key="ab_folder").set_value(str(outside)).run()
    assert not at.exception and not at.error
    at.text_input(key="ab_folder").set_value(str(outside / "linear_s0")).run()  # one run
    assert not at.exception and not at.error


def test_ablation_run_directory_with_a_bad_schema_is_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MANIFOLD_LAB_RUNS_ROOT", str(tmp_path))
    cases = {
        "no_records": ({"provenance": {}}, "has no 'records' list"),
        "no_step": ({"records": [{"epoch": 1, "test_acc": 0.5}]}, "record 0 lacks 'step'"),
        "no_metric": ({"records": [{"epoch": 1, "step": 1}]}, "record 0 lacks 'test_acc'"),
    }
    at = run_app(timeout=240, page="ablation")
    for name, (content, message) in cases.items():
        (tmp_path / name / "r_s0").mkdir(parents=True)
        (tmp_path / name / "r_s0" / "metrics.json").write_text(json.dumps(content))
        at.text_input(key="ab_folder").set_value(str(tmp_path / name)).run()
        assert not at.exception
        [error] = [e.value for e in at.error]
        assert f"r_s0/metrics.json: {message}" in error or f"r_s0/metrics.json {message}" in error


def test_load_runs_checks_roots_symlinks_and_schema(tmp_path: Path) -> None:
    from manifold_lab.ablation import load_runs, run_roots

    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    for folder in (root / "runs" / "relu6_s1", elsewhere / "linear_s0"):
        folder.mkdir(parents=True)
        records = [{"epoch": 1, "step": 5, "test_acc": 0.4}]
        (folder / "metrics.json").write_text(json.dumps({"records": records}))
    df = load_runs("runs", roots=[root])
    assert list(df["variant"]) == ["relu6"] and list(df["seed"]) == [1]
    one = load_runs(root / "runs" / "relu6_s1", roots=[root])  # one run's folder
    assert list(one["run"]) == ["relu6_s1"]
    with pytest.raises(ValueError, match=r"^\S+ is outside the folders runs are read from"):
        load_runs(root / "runs" / ".." / "..", roots=[root])
    (root / "link").symlink_to(elsewhere)
    with pytest.raises(ValueError, match="link is outside"):
        load_runs(root / "link", roots=[root])
    (root / "runs" / "linked_s0").symlink_to(elsewhere / "linear_s0")  # a run that escapes
    with pytest.raises(ValueError, match=r"linked_s0/metrics\.json is outside"):
        load_runs(root / "runs", roots=[root])
    (root / "runs" / "linked_s0").unlink()
    bad = root / "bad" / "x_s0"
    bad.mkdir(parents=True)
    for content, message in [
        (b"\xff\xfe\x00binary", "not a text file"),
        (b"{not json", "not valid JSON"),
        (b"[]", "no 'records' list"),
        (b'{"records": {"step": 1}}', "'records' must be a list of objects"),
        (b'{"records": [{"epoch": 1, "step": "ten"}]}', "non-numeric 'step'"),
    ]:
        (bad / "metrics.json").write_bytes(content)
        with pytest.raises(ValueError, match=message):
            load_runs(bad.parent, roots=[root])
    assert run_roots({})[0] == (APP.parents[1] / "experiments" / "results").resolve()


def test_link_with_ambient_dim_below_dim_is_reported() -> None:
    at = run_app(manifold="ball", dim="3", ambient_dim="1")
    assert not at.exception and not at.error
    [warning] = [w.value for w in at.warning]
    assert "ambient_dim=1" in warning and "dim=3" in warning
    assert at.sidebar.slider(key="ambient_dim").value >= 3
    assert at.query_params["ambient_dim"] == str(at.sidebar.slider(key="ambient_dim").value)


@pytest.mark.parametrize("value", ["10000", "abc"])
def test_probe_link_with_a_bad_limit_falls_back_to_the_default(value: str) -> None:
    """``pr_limit`` outside the slider's range (it raised StreamlitValueAboveMaxError) or not a
    number: the page warns, naming the value, and the slider shows the default."""
    from manifold_lab.registry.settings import PROBE

    at = run_app(page="probe", pr_limit=value)
    assert not at.exception, [e.value for e in at.exception]
    text = " ".join(w.value for w in at.warning)
    assert f"pr_limit={value}" in text
    assert at.slider(key="pr_limit").value == PROBE["limit"].default
