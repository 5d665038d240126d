"""Property-based tests (hypothesis) of every parser of user text.

Command-line ranges and lists (``--widths``, ``--seeds``, ``--activation``...), ``--set`` and
``--manifold-arg`` items, the registry's :class:`~manifold_lab.registry.Param` parsers behind
every URL parameter of every explorer page, the model and image source strings, and a sample of
generated URLs run through the explorer with AppTest. Two properties throughout: any text gives
a value or one ``ValueError`` (never another exception: that would be a traceback for the
user), and valid values survive a round trip through their text form.
"""

from __future__ import annotations

import json
import math
import string
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from manifold_lab._parsing import parse_value, split_key_value, split_names
from manifold_lab._validation import check_seeds, check_widths
from manifold_lab.activations import get_activation
from manifold_lab.cli.options import manifold_kwargs
from manifold_lab.registry import (
    IMAGE_SOURCE_REGISTRY,
    MANIFOLD_REGISTRY,
    MODEL_SOURCE_REGISTRY,
    Param,
    resolve_image_source,
    resolve_model_source,
)
from manifold_lab.registry import settings as registry_settings
from manifold_lab.train import PRESETS, TrainConfig, parse_override, preset_config
from tests.conftest import ROOT, run_app

SEARCH = settings(max_examples=300, deadline=None)

# Text that hits the parsers' structure often: digits, separators, signs, spaces, JSON.
SPEC = st.text(alphabet="0123456789:,-+ ._eE", max_size=24)
JSONISH = st.text(alphabet='0123456789:,=-+ .[]{}"truefalsnoNTF', max_size=24)
ANY_TEXT = st.one_of(st.text(max_size=40), SPEC, JSONISH, st.sampled_from(["", " ", ",", ":"]))


def value_or_value_error(parse: Callable[[], Any]) -> Any:
    """Run ``parse``; a ValueError is an answer, anything else fails the test."""
    try:
        return parse()
    except ValueError as exc:
        message = str(exc)
        assert message and "\n" not in message.strip(), f"not a one-line error: {message!r}"
        return exc


# -- command-line ranges and lists ---------------------------------------------------------
@SEARCH
@given(ANY_TEXT)
def test_widths_and_seeds_text_never_raise_anything_else(text: str) -> None:
    for check in (check_widths, check_seeds):
        out = value_or_value_error(lambda check=check: check(text))
        if not isinstance(out, ValueError):
            assert out and all(isinstance(v, int) for v in out)


@SEARCH
@given(st.lists(st.integers(1, 10**6), min_size=1, max_size=20))
def test_width_lists_round_trip(widths: list[int]) -> None:
    assert check_widths(",".join(map(str, widths))) == sorted(set(widths))
    assert check_widths(" , ".join(map(str, widths))) == sorted(set(widths))


@SEARCH
@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=20))
def test_seed_lists_round_trip(seeds: list[int]) -> None:
    assert check_seeds(",".join(map(str, seeds))) == list(dict.fromkeys(seeds))


@SEARCH
@given(st.integers(1, 10**4), st.integers(0, 500), st.integers(1, 50))
def test_ranges_round_trip(start: int, length: int, step: int) -> None:
    stop = start + length
    assert check_widths(f"{start}:{stop}") == list(range(start, stop + 1))
    assert check_widths(f"{start}:{stop}:{step}") == list(range(start, stop + 1, step))
    assert check_seeds(f"{start - 1}:{stop}") == list(range(start - 1, stop + 1))


def test_a_huge_range_is_refused_not_expanded() -> None:
    """``--seeds 0:10000000000`` would build a list of 10^10 integers (memory, then a hang)."""
    for check in (check_widths, check_seeds):
        with pytest.raises(ValueError, match="values"):
            check("1:10000000000")
        with pytest.raises(ValueError, match="values"):
            check(",".join(["1:900000"] * 3))


NAME = st.text(
    alphabet=st.characters(blacklist_characters=",", blacklist_categories=("Cs",)), min_size=1
).filter(lambda s: s.strip() == s and s != "")


@SEARCH
@given(ANY_TEXT)
def test_split_names_never_raises_anything_else(text: str) -> None:
    out = value_or_value_error(lambda: split_names(text, "--activation"))
    if not isinstance(out, ValueError):
        assert all(item and item == item.strip() for item in out)


@SEARCH
@given(st.lists(NAME, min_size=1, max_size=6))
def test_names_round_trip(names: list[str]) -> None:
    assert split_names(",".join(names), "--metrics") == names
    assert split_names(", ".join(names), "--metrics") == names


@SEARCH
@given(st.text())
def test_parse_value_never_raises(text: str) -> None:
    parse_value(text)


def test_parse_value_of_deeply_nested_json_is_the_text() -> None:
    """``json.loads`` raises RecursionError on ``[[[[...``: the value stays the text."""
    assert parse_value("[" * 100_000) == "[" * 100_000


JSON_VALUE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(string.ascii_letters, min_size=1),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)


@SEARCH
@given(JSON_VALUE)
def test_parse_value_round_trips_json(value: Any) -> None:
    assert parse_value(json.dumps(value)) == value


@SEARCH
@given(st.text(string.ascii_letters + "_", min_size=1))
def test_parse_value_keeps_plain_names(name: str) -> None:
    assume(name.lower() not in ("none", "null", "true", "false", "nan", "infinity"))
    assert parse_value(name) == name


@SEARCH
@given(ANY_TEXT, st.lists(ANY_TEXT, max_size=3))
def test_key_value_items_never_raise_anything_else(text: str, more: list[str]) -> None:
    out = value_or_value_error(lambda: split_key_value(text, "--manifold-arg"))
    if not isinstance(out, ValueError):
        assert out[0] and out[0] == out[0].strip()
    value_or_value_error(lambda: manifold_kwargs([text, *more]))


@SEARCH
@given(
    st.dictionaries(
        st.text(string.ascii_letters + "_", min_size=1), JSON_VALUE, min_size=1, max_size=4
    )
)
def test_manifold_args_round_trip(kwargs: dict[str, Any]) -> None:
    items = [f"{k}={json.dumps(v)}" for k, v in kwargs.items()]
    assert manifold_kwargs(items) == kwargs


# -- --set and the training presets ----------------------------------------------------------
FIELDS = sorted(
    {f for f in TrainConfig.__dataclass_fields__ if f != "model"}
    | {f"model_{f}" for f in PRESETS["smoke"].model.to_dict()}
)
SET_VALUE = st.one_of(
    ANY_TEXT,
    st.integers(-(10**30), 10**30).map(str),
    st.floats().map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "[]", "[[1,2,3,4]]", "{}", "null", "none"]),
)


@SEARCH
@given(ANY_TEXT)
def test_set_items_never_raise_anything_else(text: str) -> None:
    value_or_value_error(lambda: parse_override(text))
    value_or_value_error(lambda: preset_config("smoke", [text]))


@SEARCH
@given(st.lists(st.tuples(st.sampled_from(FIELDS), SET_VALUE), min_size=1, max_size=3))
def test_set_on_every_field_gives_a_config_or_a_value_error(items: list[tuple[str, str]]) -> None:
    out = value_or_value_error(lambda: preset_config("cpu", [f"{k}={v}" for k, v in items]))
    if not isinstance(out, ValueError):
        assert isinstance(out, TrainConfig)


@SEARCH
@given(st.integers(1, 1000), st.floats(1e-6, 10), st.integers(0, 2**31))
def test_set_round_trips(epochs: int, lr: float, seed: int) -> None:
    cfg = preset_config("smoke", [f"epochs={epochs}", f"lr={lr!r}", f"seed={seed}"])
    assert (cfg.epochs, cfg.lr, cfg.seed) == (epochs, lr, seed)


# -- activations with a parameter (--activation clipped_relu:C) ------------------------------
@SEARCH
@given(
    st.one_of(
        ANY_TEXT,
        st.builds(
            "{}:{}".format, st.sampled_from(["clipped_relu", "leaky_relu", "relu"]), ANY_TEXT
        ),
    )
)
def test_activation_names_never_raise_anything_else(text: str) -> None:
    value_or_value_error(lambda: get_activation(text))


# -- the registry's parameters (every URL parameter and every CLI range) -------------------
def _all_params() -> list[Param]:
    params: dict[tuple[Any, ...], Param] = {}
    groups = ("CASE", "SWEEP", "CURVES", "FIGURE1", "PHASE", "PROBE", "ABLATION")
    for group in groups:
        for p in getattr(registry_settings, group).values():
            params[(group, p.name)] = p
    for entry in MANIFOLD_REGISTRY:
        for p in entry.params:
            params[("manifold", entry.name, p.name)] = p
    return list(params.values())


PARAMS = _all_params()


def valid_values(param: Param) -> st.SearchStrategy[Any]:
    """Values the parameter accepts (within its range, of its kind)."""
    lo, hi = param.minimum, param.maximum
    if param.kind == "int":
        return st.integers(
            int(lo) if lo is not None else -(10**9), int(hi) if hi is not None else 10**9
        )
    if param.kind == "float":
        return st.floats(
            lo if lo is not None else -1e9,
            hi if hi is not None else 1e9,
            allow_nan=False,
            allow_infinity=False,
        )
    if param.kind == "bool":
        return st.booleans()
    if param.kind == "choice":
        return st.sampled_from(param.choices) if param.choices else NAME
    if param.kind == "choices":
        items = st.sampled_from(param.choices) if param.choices else NAME
        return st.lists(items, min_size=1, max_size=4)
    return NAME


def as_text(value: Any) -> str:
    """How the explorer writes a setting into the URL (``apps/_common.sync_query``)."""
    return ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


@pytest.mark.parametrize("param", PARAMS, ids=lambda p: f"{p.name}-{p.kind}")
@settings(max_examples=150, deadline=None)
@given(text=ANY_TEXT)
def test_param_parse_never_raises_anything_else(param: Param, text: str) -> None:
    out = value_or_value_error(lambda: param.parse(text))
    if not isinstance(out, ValueError):
        assert param.check(out) == out  # what parses is in range


@pytest.mark.parametrize("param", PARAMS, ids=lambda p: f"{p.name}-{p.kind}")
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_param_values_round_trip(param: Param, data: st.DataObject) -> None:
    value = param.check(data.draw(valid_values(param)))
    assert param.parse(as_text(value)) == value


# -- every explorer page's URL settings ------------------------------------------------------
def _page_specs() -> dict[str, dict[str, tuple[Any, Callable[[str], Any]]]]:
    sys.path.insert(0, str(ROOT / "apps"))
    try:
        import page_ablation
        import page_manifold
        import page_probe
        import page_sweep
    finally:
        sys.path.remove(str(ROOT / "apps"))
    return {
        "manifold": page_manifold.spec(),
        "sweep": page_sweep.spec(),
        "probe": page_probe.spec(),
        "ablation": page_ablation.SPEC,
    }


SPECS = _page_specs()
URL_SETTINGS = [(page, name) for page, spec in SPECS.items() for name in spec]


@pytest.mark.parametrize(("page", "name"), URL_SETTINGS)
@settings(max_examples=100, deadline=None)
@given(text=ANY_TEXT)
def test_url_settings_never_raise_anything_else(page: str, name: str, text: str) -> None:
    default, parse = SPECS[page][name]
    out = value_or_value_error(lambda: parse(text))
    if not isinstance(out, ValueError):
        assert parse(as_text(out)) == out  # what the page writes back reads the same
    assert parse(as_text(default)) == default  # the default itself survives the URL


# -- source strings (--weights, --images, the probe page's menus) ----------------------------
SOURCE_TEXT = st.one_of(
    ANY_TEXT,
    st.text(min_size=250, max_size=600),
    st.builds(
        "{}:{}".format,
        st.sampled_from([*MODEL_SOURCE_REGISTRY.names(), *IMAGE_SOURCE_REGISTRY.names()]),
        st.one_of(ANY_TEXT, st.text(min_size=300, max_size=5000)),
    ),
)


@SEARCH
@given(SOURCE_TEXT)
def test_source_strings_never_raise_anything_else(text: str) -> None:
    for resolve in (resolve_model_source, resolve_image_source):
        out = value_or_value_error(lambda resolve=resolve: resolve(text))
        if not isinstance(out, ValueError):
            _entry, argument = out
            assert isinstance(argument, str)


def test_a_file_name_too_long_for_the_os_is_unknown_not_an_os_error() -> None:
    """``Path(name).exists()`` raises OSError (ENAMETOOLONG) for a 5000-character name."""
    for resolve in (resolve_model_source, resolve_image_source):
        with pytest.raises(ValueError, match="unknown"):
            resolve("x" * 5000)


@pytest.mark.parametrize("registry", [MODEL_SOURCE_REGISTRY, IMAGE_SOURCE_REGISTRY])
def test_source_names_round_trip(registry: Any) -> None:
    resolve = resolve_model_source if registry is MODEL_SOURCE_REGISTRY else resolve_image_source
    for entry in registry:
        for argument in entry.arguments or (("x/y.pt",) if entry.argument else ("",)):
            text = f"{entry.name}:{argument}" if argument else entry.name
            if entry.argument and not entry.arguments and registry is IMAGE_SOURCE_REGISTRY:
                continue  # a folder: a bare path, tested in test_data
            assert resolve(text) == (entry, argument), text


# -- generated URLs through the explorer (AppTest) -------------------------------------------
GARBAGE = st.one_of(
    st.text(max_size=12), st.sampled_from(["", "nan", "inf", "-1", "1e9", "10000", ",", "a,,b"])
)
# the valid values a sample draws for settings that make a page slow (sweep sizes, probe sizes)
CHEAP = {
    "sw_max_width": st.integers(4, 10),
    "sw_seeds": st.integers(2, 4),
    "sw_points": st.just(100),
    "ph_max_dim": st.integers(1, 2),
    "ph_seeds": st.integers(5, 6),
    "pr_limit": st.sampled_from([8, 16]),
    "pr_seed": st.integers(0, 1),
    "pr_model": st.sampled_from(["builtin", "random-cifar", "upload"]),
    "pr_images": st.sampled_from(["cifar10-sample", "upload"]),
    "n_samples": st.sampled_from([100, 200]),
}


def _valid_url_value(page: str, name: str) -> st.SearchStrategy[str]:
    if name in CHEAP:
        return CHEAP[name].map(as_text)
    _default, parse = SPECS[page][name]
    param = getattr(parse, "__self__", None)
    assert isinstance(param, Param), f"{page}: {name} is not read by a registry Param"
    return valid_values(param).map(lambda v: as_text(param.check(v)))


@st.composite
def urls(draw: st.DrawFn, page: str) -> dict[str, str]:
    query = {"page": page}
    for name in SPECS[page]:
        how = draw(st.sampled_from(["absent", "valid", "valid", "garbage"]))
        if how == "valid":
            query[name] = draw(_valid_url_value(page, name))
        elif how == "garbage":
            query[name] = draw(GARBAGE)
    return query


@pytest.fixture
def cheap_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unreadable setting falls back to its default: make the costly defaults cheap."""
    s = registry_settings
    for group, name, value in [
        (s.CURVES, "max_width", 8),
        (s.CURVES, "n_seeds", 3),
        (s.CURVES, "n_samples", 100),
        (s.PHASE, "max_dim", 2),
        (s.PHASE, "n_seeds", 5),
        (s.PROBE, "limit", 8),
    ]:
        monkeypatch.setitem(group, name, group[name].replace(default=value))


@pytest.mark.slow
@pytest.mark.parametrize("page", list(SPECS))
def test_generated_urls_run_the_page(page: str, cheap_defaults: None) -> None:
    samples = {"manifold": 8, "sweep": 6, "probe": 5, "ablation": 5}[page]

    @settings(
        max_examples=samples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(query=urls(page))
    def check(query: dict[str, str]) -> None:
        at = run_app(timeout=120, **query)
        assert not at.exception, (query, [e.value for e in at.exception])
        warnings = " ".join(w.value for w in at.warning)
        for name, (_default, parse) in SPECS[page].items():
            if name not in query:
                continue
            try:
                parse(query[name])
            except ValueError:
                assert f"{name}=" in warnings, (query, name, warnings)
        # what the page wrote back into the URL reads as the setting it shows
        for name, (_default, parse) in SPECS[page].items():
            if name in at.query_params and name in at.session_state:
                written = at.query_params[name]
                written = written[0] if isinstance(written, list) else written
                value = at.session_state[name]
                expect = list(value) if isinstance(value, tuple) else value
                got = parse(written)
                if isinstance(expect, float):
                    assert math.isclose(got, expect), (name, written, expect)
                else:
                    assert got == expect, (name, written, expect)

    check()
