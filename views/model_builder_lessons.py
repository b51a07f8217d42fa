"""The Model Builder's lessons (playground/builder/lessons.py): the list that opens one, the panel that says what to
look at with the lesson's figure for the run shown, the one-click fix, and the settings a lesson hides. Widgets and
layout only."""

from __future__ import annotations

import streamlit as st

from playground.builder import lessons
from playground.builder.config import RunConfig
from playground.builder.lessons import Lesson
from playground.execution.controller import Press
from views import model_builder_bar
from views.model_builder_inside import TOGGLE_KEY

STATE = st.session_state
LESSON_KEY = "mb_lesson"  # the open lesson's name (the URL keeps it as ?lesson=<name>)
APPLY_CONFIG = "mb_apply_config"  # the page sets its widgets from this RunConfig on its next run


def active() -> Lesson | None:
    return lessons.find(STATE.get(LESSON_KEY))


def hidden() -> frozenset[str]:
    """The settings whose controls the open lesson hides (they keep their values)."""
    lesson = active()
    return frozenset(lesson.hides) if lesson is not None else frozenset()


def opened(name: str | None) -> None:
    """A lesson opened by a link or the list (None: a link without one): kept in the session, and the inside view,
    where its figure is read, switched on."""
    if name is None:
        STATE.pop(LESSON_KEY, None)
        return
    STATE[LESSON_KEY] = name
    STATE[TOGGLE_KEY] = True


def _open(name: str, base: RunConfig) -> None:
    STATE[APPLY_CONFIG] = lessons.LESSONS[name].setup(base)
    opened(name)


def _fix(name: str) -> None:
    """Apply the lesson's fix to the setup shown and train it: Play when nothing trains, else Train again."""
    config = STATE.get("mb_config")
    if not isinstance(config, RunConfig):
        return
    STATE[APPLY_CONFIG] = lessons.LESSONS[name].fixed_setup(config)
    active_job, _ = model_builder_bar.job_state()
    model_builder_bar.press(Press.AGAIN if active_job else Press.PLAY)


def _leave() -> None:
    STATE.pop(LESSON_KEY, None)


def menu(where, base: RunConfig) -> None:
    """The lessons, one button each (the link that opens one is shown in the address bar once it is open)."""
    with where.popover("Lessons", width="stretch", help="Three lessons inside training, each with its fix."):
        st.markdown("**Lessons: inside training**")
        st.caption("Each sets the model up, says what to look at in Inside the layers, and has a one-click fix.")
        for lesson in lessons.LESSONS.values():
            st.button(lesson.title, key=f"mb_lesson_open_{lesson.name}", on_click=_open, args=(lesson.name, base),
                      width="stretch", help=f"Link: model_builder?lesson={lesson.name}")


def panel(where, ready: bool):
    """The open lesson: what to look at and the fix; returns the slot for its figure (``figure``, redrawn with the
    pictures while a run trains), or None without a lesson."""
    lesson = active()
    if lesson is None:
        return None
    with where.container(key="mb_lesson"):
        text, fix, leave = st.columns([8.6, 1.6, 0.9], vertical_alignment="center", gap="small")
        text.caption(f":material/school: **Lesson: {lesson.title}.** {lesson.look_at}")
        slot = text.empty()
        fix.button(lesson.fix_label, key="mb_lesson_fix", on_click=_fix, args=(lesson.name,), type="primary",
                   disabled=not ready, width="stretch", help="Apply the fix to the settings and train it.")
        leave.button("Leave", key="mb_lesson_leave", on_click=_leave, width="stretch",
                     help="Close the lesson; the settings stay.")
    return slot


def figure(slot, history: list[dict], replay: int | None) -> None:
    """The lesson's figure for the run shown (at the replayed epoch), and whether it shows the problem."""
    lesson = active()
    if slot is None or lesson is None:
        return
    value, problem = lessons.state(lesson, history, replay)
    if value is None:
        slot.caption("Press Play: the figure appears after the first epoch.")
        return
    colour = "red" if problem else "green"
    slot.caption(f":{colour}-background[Now: {lesson.symptom.label} = **{lesson.symptom.fmt(value)}**: "
                  f"{lesson.problem if problem else lesson.fixed}]")
