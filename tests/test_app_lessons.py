"""AppTest tests of lesson links (``?lesson=<id>&step=<i>``) and hidden controls (``hide=``)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from manifold_lab.lessons import LESSONS, get_lesson
from manifold_lab.probing import COLUMN_LABELS
from tests.conftest import run_app


def _controls(at: AppTest) -> set[str]:
    """Keys of the sidebar's widgets."""
    return {w.key for w in at.sidebar if getattr(w, "key", None)}


def _figure7(at: AppTest) -> set[str]:
    """Which of the probe page's Figure 7 and table of blocks are drawn."""
    ids = [c.proto.id for c in at.get("plotly_chart")]
    drawn = {"fig7_chart"} if any("fig7" in i for i in ids) else set()
    lemma2 = COLUMN_LABELS["lemma2_fraction"]  # the table of blocks; not the loss table's
    tables = {"probe_table"} if any(lemma2 in d.value.columns for d in at.dataframe) else set()
    return drawn | tables


def _findings(at: AppTest) -> set[str]:
    """Which of the ablation page's findings (table, chart) are drawn."""
    keys = {getattr(w, "key", None) for w in at.dataframe} | {
        c.proto.id for c in at.get("plotly_chart")
    }
    return {"findings"} if any("findings" in str(k) for k in keys) else set()


def _answer(at: AppTest, name: str, number: int) -> None:
    """Answer the step's question (the first option, or a width of 10) and ask for the reveal."""
    step = get_lesson(name).step(number)
    key = f"lesson_{name}_{number}"
    if step.options:
        at.radio(key=f"{key}_answer").set_value(step.options[0]).run()
    else:
        at.number_input(key=f"{key}_answer").set_value(10.0).run()
    at.button(key=f"{key}_reveal").click().run()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(LESSONS))
def test_lesson_steps_advance_hide_and_reveal_the_measurement(name: str) -> None:
    lesson = get_lesson(name)
    at = run_app(timeout=300, lesson=name)
    for number, step in enumerate(lesson.steps, start=1):
        assert not at.exception and not at.error and not at.warning, number
        box = at.markdown[0].value
        assert lesson.title in box and f"step {number} of {len(lesson.steps)}" in box
        assert at.session_state.page == step.page
        assert not _controls(at) & set(step.hide), "a hidden control is drawn"
        if "page" in step.hide:
            assert not at.sidebar.radio
        for key, value in step.settings.items():
            assert str(at.session_state[key]) == value, key
        # the question comes first: no answer before the reader answers
        assert at.button(key=f"lesson_{name}_{number}_reveal").disabled
        assert not at.success and not at.info
        assert not at.metric, "the metric tiles give the answer away before it is asked"
        if step.page == "probe":  # Figure 7 and its table give the answer away too
            assert "figure7" in step.reveal
            assert not _figure7(at), "Figure 7 is drawn before the question is answered"
        if step.page == "ablation":  # so do the ablation's findings
            assert "findings" in step.reveal
            assert not _findings(at), "the findings are drawn before the question is answered"
        _answer(at, name, number)
        if step.page == "manifold":
            assert at.metric, "the tiles come back with the answer"
        if step.page == "probe":
            assert _figure7(at) == {"fig7_chart", "probe_table"}, "revealed with the answer"
        if step.page == "ablation":
            assert _findings(at), "the findings come back with the answer"
        measured = step.measure()
        shown = [m.value for m in (*at.success, *at.info)]
        assert shown and measured.text in shown[0], shown
        assert shown[0].startswith("Right." if at.success else "Not quite.")
        if number < len(lesson.steps):
            at.button(key=f"lesson_{name}_{number}_next").click().run()
            assert at.query_params["step"] in (str(number + 1), [str(number + 1)])
    assert any("Last step" in m.value for m in at.markdown)


def test_a_right_answer_is_confirmed_and_previous_goes_back() -> None:
    at = run_app(timeout=120, lesson="linear-bottleneck", step="2")
    measured = get_lesson("linear-bottleneck").step(2).measure()
    at.radio(key="lesson_linear-bottleneck_2_answer").set_value(measured.answer).run()
    at.button(key="lesson_linear-bottleneck_2_reveal").click().run()
    assert at.success and at.success[0].value.startswith("Right.")
    assert at.session_state.activation == "identity"
    at.button(key="lesson_linear-bottleneck_2_prev").click().run()
    assert at.session_state.activation == "relu"  # step 1's settings applied again
    assert not at.success


def test_figure7_waits_for_the_answer_and_a_plain_link_shows_it() -> None:
    """Lesson 3's first step: no Figure 7 (nor its table) before the answer, both after;
    the probe page without a lesson draws them at once."""
    name = "trained-network"
    at = run_app(timeout=300, lesson=name)
    assert not at.exception and not at.error
    assert not _figure7(at)
    assert any("appear once you have answered" in c.value for c in at.caption)
    _answer(at, name, 1)
    assert not at.exception and not at.error
    assert _figure7(at) == {"fig7_chart", "probe_table"}
    plain = run_app(timeout=300, page="probe", pr_limit="48")
    assert not plain.exception and _figure7(plain) == {"fig7_chart", "probe_table"}


def test_hide_parameter_hides_controls_in_any_link() -> None:
    at = run_app(timeout=120, width="7", hide="width,activation,page")
    assert not at.exception and not at.warning
    keys = _controls(at)
    assert "width" not in keys and "activation" not in keys and "manifold" in keys
    assert [r.key for r in at.sidebar.radio] == ["points_source"]  # no page menu
    assert at.session_state.width == 7
    at.sidebar.selectbox(key="manifold").set_value("circle").run()
    assert at.session_state.width == 7 and at.query_params["hide"] == "width,activation,page"


def test_unknown_lesson_or_step_is_reported_not_raised() -> None:
    at = run_app(timeout=120, lesson="nope")
    assert not at.exception and "unknown lesson 'nope'" in at.warning[0].value
    at = run_app(timeout=120, lesson="figure1", step="9")
    assert not at.exception and "steps 1 to 3, not 9" in at.warning[0].value
