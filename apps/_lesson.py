"""Lesson links and hidden controls: ``?lesson=<id>&step=<i>`` and ``?hide=a,b``.

A lesson step (:mod:`manifold_lab.lessons`) fixes the page and its settings, hides chosen
controls, asks its question first and shows the answer the library measures only after the
reader has answered; what would give the answer away (the step's ``reveal``: the metric
tiles, Figure 7) is hidden until then. ``hide=a,b`` hides the controls ``a`` and ``b``
(their URL names) in any link.
"""

from __future__ import annotations

import streamlit as st

from manifold_lab.lessons import Answer, Lesson, get_lesson


def start() -> tuple[Lesson, int] | None:
    """Read the link's lesson and hidden controls; on entering a step, apply its settings.

    Call before the page menu is drawn. Returns the lesson and the step number, or None.
    """
    q = st.query_params
    hide = {h.strip() for h in q.get("hide", "").split(",") if h.strip()}
    st.session_state._hidden = hide
    name = q.get("lesson")
    if not name:
        return None
    try:
        lesson = get_lesson(name)
        number = int(q.get("step", "1"))
        step = lesson.step(number)
    except ValueError as exc:
        st.warning(f"Ignored the lesson link: {exc}.")
        return None
    if st.session_state.get("_lesson_at") != (name, number):
        st.session_state._lesson_at = (name, number)
        for key, value in step.settings.items():
            q[key] = value
            st.session_state.pop(key, None)  # read again from the link by the page
        st.session_state.page = step.page
    # what gives the answer away (the metric tiles, Figure 7): hidden until it is revealed
    st.session_state._hidden = hide | set(step.hide) | set(step.reveal)
    return lesson, number


@st.cache_data(max_entries=32, show_spinner="Measuring the answer ...")
def measure(name: str, number: int) -> Answer:
    """The step's measured answer (:meth:`manifold_lab.lessons.Step.measure`), cached."""
    return get_lesson(name).step(number).measure()


def _go(number: int) -> None:
    st.query_params["step"] = str(number)


def panel(lesson: Lesson, number: int) -> None:
    """The lesson box: the step, its question, the answer once given, and the way on."""
    step = lesson.step(number)
    box = st.container(border=True, key="lesson_box")
    box.markdown(
        f"**Lesson: {lesson.title}** · step {number} of {len(lesson.steps)}\n\n{step.text}"
    )
    key = f"lesson_{lesson.name}_{number}"
    if step.options:
        given = box.radio(step.question, step.options, index=None, key=f"{key}_answer")
    else:
        given = box.number_input(step.question, value=None, step=1.0, key=f"{key}_answer")
    if box.button("Show the measured answer", disabled=given is None, key=f"{key}_reveal"):
        st.session_state[f"{key}_revealed"] = True
    if given is not None and st.session_state.get(f"{key}_revealed"):
        try:
            answer = measure(lesson.name, number)
        except ValueError as exc:
            box.error(str(exc))
        else:
            st.session_state._hidden = st.session_state._hidden - set(step.reveal)
            if answer.check(given):
                box.success("Right. " + answer.text, icon=":material/check:")
            else:
                box.info("Not quite. " + answer.text, icon=":material/lightbulb:")
    cols = box.columns(2)
    if number > 1:
        cols[0].button("Previous step", key=f"{key}_prev", on_click=_go, args=(number - 1,))
    if number < len(lesson.steps):
        cols[1].button("Next step", key=f"{key}_next", on_click=_go, args=(number + 1,))
    else:
        cols[1].markdown("Last step: the end of the lesson.")
