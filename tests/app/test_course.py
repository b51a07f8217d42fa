"""The Course page driven like a learner: answer right and wrong, get the hint and then the worked answer, switch the
language (kept in the URL), see the progress bar move and stay across sessions, reset it; the teacher's counts in
shared mode."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from playground import limits
from playground.course.catalog import EXERCISES, STEPS
from tests.app.conftest import APP, open_page, texts

TOTAL = len(EXERCISES)


def progress_text(at: AppTest) -> str:
    (bar,) = at.get("progress")
    return bar.proto.text


def answer(at: AppTest, exercise_id: str, text: str, seed: int = 0) -> AppTest:
    at.text_input(key=f"course_answer_{exercise_id}_{seed}").input(text)
    at.button(key=f"course_check_{exercise_id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def to_step(at: AppTest, key: str) -> AppTest:
    at.radio(key="course_step").set_value(key).run()
    assert not at.exception
    return at


def test_the_first_screen_shows_the_steps_and_the_progress_bar():
    at = open_page("pages/course.py")
    assert progress_text(at) == f"0 of {TOTAL} exercises passed"
    steps = at.radio(key="course_step").options
    assert len(steps) == len(STEPS)
    assert steps[0] == "1. What PyTorch is (0/1)"
    assert steps[-1] == f"16. Reproducibility (0/{len(STEPS[-1].exercises)})"
    assert "Course" in [t.value for t in at.title]


def test_a_right_answer_passes_and_moves_the_progress_bar():
    at = to_step(open_page("pages/course.py"), "tensors")
    answer(at, "squeeze", "2, 3")
    assert "Right." in [s.value for s in at.success]
    assert progress_text(at) == f"1 of {TOTAL} exercises passed"
    assert at.radio(key="course_step").options[1] == "2. Tensors, dtypes and shape operations (1/10)"
    # the step list's labels changed: the learner stays on their step and goes on answering
    assert at.subheader[0].value == "2. Tensors, dtypes and shape operations"
    answer(at, "pow", "[1, 4, 9, 16]")
    assert progress_text(at) == f"2 of {TOTAL} exercises passed"


def test_wrong_answers_get_the_hint_then_the_worked_answer_with_its_proof():
    at = to_step(open_page("pages/course.py"), "tensors")
    answer(at, "unsqueeze", "3, 2")
    hint = EXERCISES["unsqueeze"].instance(0).hint.en
    assert any("unsqueeze" in w.value and "new dimension" in w.value for w in at.warning), hint
    assert "Worked answer" not in [e.label for e in at.expander]
    for _ in range(limits.COURSE_TRIES_BEFORE_ANSWER - 1):
        at.button(key="course_check_unsqueeze").click().run()
    assert "Worked answer" in [e.label for e in at.expander]
    proof = EXERCISES["unsqueeze"].instance(0).proof
    assert proof in [c.value for c in at.code]
    assert f"Wrong tries: {limits.COURSE_TRIES_BEFORE_ANSWER}" in texts(at)
    assert progress_text(at) == f"0 of {TOTAL} exercises passed"


def test_an_unreadable_answer_is_a_sentence_and_not_a_try():
    at = to_step(open_page("pages/course.py"), "gradient")
    answer(at, "expr-square", "__import__('os').system('echo owned')")
    assert at.error and "Wrong tries" not in texts(at)
    answer(at, "grad-course", "[" * 3000)
    assert at.error


def test_new_numbers_change_the_exercise():
    at = to_step(open_page("pages/course.py"), "tensors")
    before = [c.value for c in at.code]
    at.button(key="course_new_squeeze").click().run()
    assert [c.value for c in at.code] != before
    right = ", ".join(map(str, EXERCISES["squeeze"].instance(1).truth))
    answer(at, "squeeze", right, seed=1)
    assert "Right." in [s.value for s in at.success]


def test_the_language_is_chosen_on_the_page_and_kept_in_the_url():
    at = open_page("pages/course.py")
    at.radio(key="course_lang").set_value("zh").run()
    assert at.query_params.get("lang") in ("zh", ["zh"])
    assert "课程" in [t.value for t in at.title]
    assert progress_text(at) == f"已通过 0 / {TOTAL} 道练习"
    assert "PyTorch 像 NumPy" in texts(at)
    at.radio(key="course_lang").set_value("en").run()
    assert "lang" not in at.query_params


def test_a_link_with_lang_zh_opens_the_page_in_chinese():
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.query_params["lang"] = "zh"
    at.query_params["step"] = "gradient"
    at.switch_page("pages/course.py").run()
    assert not at.exception
    assert "课程" in [t.value for t in at.title]
    assert any("梯度" in s.value for s in at.subheader)


def test_progress_is_kept_across_sessions_and_can_be_reset():
    at = to_step(open_page("pages/course.py"), "layers")
    answer(at, "linear-weight", "64, 32")
    again = open_page("pages/course.py")  # a new session of the same (personal) owner
    assert progress_text(again) == f"1 of {TOTAL} exercises passed"
    summary = again.get("download_button")[0]
    assert summary is not None
    again.button(key="course_reset").click().run()
    again.button(key="course_reset_confirmed").click().run()
    assert progress_text(again) == f"0 of {TOTAL} exercises passed"


def test_the_accuracy_exercise_asks_for_a_kept_run():
    at = to_step(open_page("pages/course.py"), "validation")
    at.button(key="course_check_accuracy-run").click().run()
    assert not at.exception
    assert any("No kept run on the xor data" in e.value for e in at.error)


def test_the_teachers_view_in_shared_mode(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MODE", "shared")
    at = to_step(open_page("pages/course.py"), "tensors")
    answer(at, "squeeze", "2, 3")
    assert "Teacher's view: visitors who passed each exercise" in [e.label for e in at.expander]
    table = at.dataframe[0].value
    row = table[table["Exercise"] == "squeeze (squeeze)"]
    assert int(row["Passed by"].iloc[0]) == 1
    assert "1 visitors have answered" in texts(at)


def test_no_teachers_view_in_personal_mode():
    at = open_page("pages/course.py")
    assert not any("Teacher" in e.label for e in at.expander)


def test_the_training_loop_step_links_the_model_builders_lessons():
    at = to_step(open_page("pages/course.py"), "training")
    links = {p.proto.label.replace("\\", ""): p.proto for p in at.get("page_link")}  # as_text escapes Markdown
    for name, label in next(s for s in STEPS if s.key == "training").lessons:
        link = links[label.en]
        assert link.page.endswith("model_builder") and f"lesson={name}" in link.query_string, link
