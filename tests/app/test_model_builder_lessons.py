"""The Model Builder's lessons: a link (?lesson=<name>) sets the model up, hides the quiet controls, switches on
Inside the layers and says what to look at; after training the lesson's figure shows the problem; the fix button
applies the fix and trains, and the figure shows it work. A hostile lesson value is a sentence and the default page."""

from __future__ import annotations

import pytest

from playground.builder import lessons
from tests.app.conftest import texts
from tests.app.test_builder_links import builder
from tests.app.test_model_builder import poll_until_done

EPOCHS = 4  # the figures show in the first epochs (tests/unit/builder/test_lessons.py); the lessons' 30 take longer


def query(at) -> dict[str, str]:
    return {key: at.query_params[key][-1] if isinstance(at.query_params[key], list) else at.query_params[key]
            for key in at.query_params}


def widget_keys(at) -> set[str]:
    return {w.key for kind in ("number_input", "selectbox", "slider", "select_slider", "checkbox") for w in at.get(kind)
            if getattr(w, "key", None)}


@pytest.mark.parametrize("name", list(lessons.LESSONS))
def test_a_lesson_link_sets_up_shows_the_problem_and_its_fix_works(name):
    lesson = lessons.LESSONS[name]
    at = builder({"lesson": name})
    config = at.session_state["mb_config"]
    values = config.values()
    for setting, value in lesson.settings:
        expected = (value,) * len(config.model.hidden) if isinstance(value, str) and setting == "activations" else value
        assert values[setting] == expected, setting
    assert at.session_state["mb_inside"] is True and at.session_state["mb_lesson"] == name
    assert lesson.look_at in texts(at) and "Press Play: the figure appears" in texts(at)
    assert not {f"mb_{hidden}" for hidden in lesson.hides} & widget_keys(at)  # its quiet controls are hidden
    assert query(at)["lesson"] == name  # the URL keeps the lesson beside the settings

    at.number_input(key="mb_epochs").set_value(EPOCHS).run()
    at.button(key="mb_play").click().run()
    poll_until_done(at)
    assert any(c.value.startswith(":red-background[Now:") and lesson.problem in c.value for c in at.caption), texts(at)
    value, problem = lessons.state(lesson, at.session_state["mb_trained"].history)
    assert problem is True and lesson.symptom.fmt(value) in texts(at)

    at.button(key="mb_lesson_fix").click().run()  # applies the fix and trains it
    poll_until_done(at)
    fixed = at.session_state["mb_config"]
    assert fixed == lesson.fixed_setup(config).with_train(epochs=EPOCHS)
    assert any(c.value.startswith(":green-background[Now:") and lesson.fixed in c.value for c in at.caption), texts(at)
    assert lessons.state(lesson, at.session_state["mb_trained"].history)[1] is False
    assert query(at)["lesson"] == name and query(at)["lr"] == repr(fixed.train.lr)


@pytest.mark.parametrize("value", ["nope", "<b>x</b>"])
def test_a_hostile_lesson_link_is_a_sentence_and_the_default_page(value):
    at = builder({"lesson": value})
    assert not at.exception
    assert "mb_lesson" not in at.session_state
    assert any("lesson" in w.value or "longer than" in w.value for w in at.warning)
    assert all(value not in w.value for w in at.warning)  # the link's text is not echoed
    assert at.session_state["mb_config"].model.hidden == (8, 8)  # the default network
    assert "lesson" not in query(at)


def test_the_lessons_list_opens_one_and_leave_closes_it():
    at = builder()
    at.button(key="mb_lesson_open_dead_relu").click().run()
    assert at.session_state["mb_config"].model.activations == ("relu", "relu")
    assert at.session_state["mb_config"].train.lr == 3.0 and query(at)["lesson"] == "dead_relu"
    at.button(key="mb_lesson_leave").click().run()
    assert "lesson" not in query(at) and lessons.LESSONS["dead_relu"].look_at not in texts(at)
    assert "mb_dropout" in widget_keys(at)  # its hidden controls are back
