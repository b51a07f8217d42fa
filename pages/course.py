"""Course: the course's steps in its order, each with its text, a link to the page that teaches it and exercises the
app checks; progress per visitor kept in the run store; a summary to download; in shared mode a teacher's counts.
Widgets and layout only: the steps, the checking and the progress are playground/course and playground/runs."""

# ruff: noqa: E402 - the page's frame is drawn before its imports of torch (views/page_frame.py)
from __future__ import annotations

import streamlit as st

from views import page_frame

page_frame.start()

from playground import limits
from playground.course.catalog import EXERCISES, STEPS, STEPS_BY_KEY, Step
from playground.course.exercises import CHOICE, ORDER, RUN, Exercise, Instance, Verdict, check
from playground.course.run_check import check_run
from playground.course.summary import score, summary_markdown
from playground.errors import PlaygroundError, as_text
from playground.runs import owners
from playground.runs.default_store import open_default_store
from playground.runs.progress import CourseProgress, SessionProgress, progress_for
from views.identity import current_owner
from views.widgets import show_error

LANGUAGES = {"en": "English", "zh": "简体中文"}
WORDS = {
    "en": {"title": "Course", "caption": "The course in its order: read, open the page that teaches it, then answer. "
           "Every answer is checked against what PyTorch really gives.",
           "passed": "{passed} of {total} exercises passed", "steps": "Steps", "check": "Check",
           "new": "New numbers", "answer": "Your answer", "choose": "Your choice", "worked": "Worked answer",
           "proof": "The torch code that proves it", "runs": "Check my kept runs", "reset": "Reset my progress",
           "confirm": "Yes, forget my progress", "download": "Download my summary",
           "teacher": "Teacher's view: visitors who passed each exercise", "visitors": "{n} visitors have answered",
           "done": "Passed", "not_kept": "Progress is kept for this visit only: ", "tries": "Wrong tries: {n}",
           "exercise": "Exercise", "count": "Passed by"},
    "zh": {"title": "课程", "caption": "按课程顺序学习:阅读,打开讲解它的页面,然后作答。每个答案都与 PyTorch 的真实结果核对。",
           "passed": "已通过 {passed} / {total} 道练习", "steps": "步骤", "check": "检查", "new": "换一组数字",
           "answer": "你的答案", "choose": "你的选择", "worked": "解答", "proof": "证明它的 torch 代码",
           "runs": "检查我保存的运行", "reset": "重置我的进度", "confirm": "确定,清除我的进度",
           "download": "下载我的小结(Markdown)", "teacher": "教师视图:通过每道练习的访客人数",
           "visitors": "已有 {n} 位访客作答", "done": "已通过", "not_kept": "进度只在本次访问中保留:",
           "tries": "错误次数:{n}", "exercise": "练习", "count": "通过人数"},
}


def url_choice(key: str, allowed, default: str) -> str:
    value = st.query_params.get(key, default)
    return value if value in allowed else default


# Language and step: chosen on the page, kept in the URL (?lang=zh&step=gradient) so a link opens the same view.
if "course_lang" not in st.session_state:
    st.session_state["course_lang"] = url_choice("lang", LANGUAGES, "en")
if "course_step_current" not in st.session_state:
    st.session_state["course_step_current"] = url_choice("step", STEPS_BY_KEY, STEPS[0].key)
# The step list's labels carry the progress, so its widget is a new one when they change: its value is set from the
# step kept here before each run draws it, or a passed exercise would send the learner back to step 1.
st.session_state["course_step"] = st.session_state["course_step_current"]


def keep_in_url() -> None:
    if "course_step" in st.session_state:
        st.session_state["course_step_current"] = st.session_state["course_step"]
    lang, step = st.session_state["course_lang"], st.session_state["course_step_current"]
    if lang == "en":
        st.query_params.pop("lang", None)
    else:
        st.query_params["lang"] = lang
    st.query_params["step"] = step


head, language = st.columns([4, 1], vertical_alignment="bottom")
with language:
    st.radio("Language / 语言", list(LANGUAGES), format_func=LANGUAGES.get, key="course_lang", horizontal=True,
             on_change=keep_in_url)
lang = st.session_state["course_lang"]
words = WORDS[lang]
with head:
    st.title(words["title"])
    st.caption(words["caption"])

store = open_default_store()
owner = current_owner()
progress: CourseProgress
if getattr(store, "writable", False):
    progress = progress_for(store, EXERCISES)
if not getattr(store, "writable", False) or not progress.writable:
    progress = st.session_state.setdefault("course_session_progress",
                                           SessionProgress(EXERCISES, getattr(store, "reason", "")))
try:
    entries = progress.entries(owner)
except PlaygroundError as exc:
    show_error(exc)
    entries = {}


def step_label(step_key: str) -> str:
    number = next(i for i, s in enumerate(STEPS, 1) if s.key == step_key)
    step = STEPS_BY_KEY[step_key]
    done = sum(1 for ex in step.exercises if entries.get(ex.exercise_id) and entries[ex.exercise_id].passed)
    mark = "✓ " if done == len(step.exercises) else ""
    return f"{mark}{number}. {step.title(lang)} ({done}/{len(step.exercises)})"


alone, passed, total = score(entries)
steps_column, step_column = st.columns([1, 3], gap="large")
with steps_column:
    st.progress(passed / total, text=words["passed"].format(passed=passed, total=total))
    st.radio(words["steps"], [s.key for s in STEPS], format_func=step_label, key="course_step", on_change=keep_in_url)
    if not progress.writable and progress.reason:
        st.caption(as_text(words["not_kept"] + progress.reason))


def record(exercise_id: str, correct: bool | None, answer_shown: bool = False) -> None:
    try:
        entries[exercise_id] = progress.record(owner, exercise_id, correct, answer_shown)
    except PlaygroundError as exc:
        show_error(exc)


def show_verdict(verdict: Verdict) -> None:
    text = as_text(verdict.message(lang), limit=1_000)
    if verdict.correct:
        st.success(text, icon=":material/check_circle:")
    elif verdict.readable:
        st.warning(text, icon=":material/lightbulb:")
    else:
        st.error(text, icon=":material/error:")


def answer_widget(instance: Instance, key: str) -> str | None:
    if instance.kind == CHOICE:
        labels = dict(instance.choices)
        return st.radio(words["choose"], list(labels), format_func=labels.get, index=None, key=key)
    return st.text_input(words["answer"], max_chars=limits.MAX_COURSE_ANSWER_CHARS, key=key)


def draw_exercise(exercise: Exercise, number: int) -> None:
    eid = exercise.exercise_id
    seed_key, verdict_key = f"course_seed_{eid}", f"course_verdict_{eid}"
    seed = int(st.session_state.get(seed_key, 0))
    instance = exercise.instance(seed)
    entry = entries.get(eid)
    with st.container(border=True, key=f"course_ex_{eid}"):
        title = f"**{number}. {as_text(exercise.title(lang))}**"
        st.markdown(title + (f" · :green[{words['done']}]" if entry and entry.passed else ""))
        st.markdown(as_text(instance.prompt(lang), limit=2_000))
        if instance.kind == ORDER:
            st.code(instance.code, language="python")
        elif instance.code:
            st.code(instance.code, language="python")
        if instance.kind == RUN:
            st.page_link(page_frame.BUILDER, label=as_text(STEPS_BY_KEY["validation"].link_label(lang)),
                         icon=":material/model_training:", query_params=instance.point)
            answer = None
        else:
            answer = answer_widget(instance, f"course_answer_{eid}_{seed}")
        check_col, new_col, _ = st.columns([1, 1, 3])
        pressed = check_col.button(words["runs"] if instance.kind == RUN else words["check"], key=f"course_check_{eid}",
                                   type="primary")
        if new_col.button(words["new"], key=f"course_new_{eid}", disabled=instance.kind == RUN):
            st.session_state[seed_key] = (seed % limits.MAX_COURSE_SEED) + 1
            st.session_state.pop(verdict_key, None)
            st.rerun()
        if pressed:
            try:
                verdict = check_run(instance, store, owner) if instance.kind == RUN else check(instance, answer or "")
            except PlaygroundError as exc:
                verdict = Verdict(False, type(instance.hint)(exc.sentence, exc.sentence), readable=False)
            st.session_state[verdict_key] = (seed, verdict)
            if verdict.readable:
                record(eid, verdict.correct)
                st.rerun()  # the progress bar and the step list, drawn above, show the new count
        kept = st.session_state.get(verdict_key)
        if kept and kept[0] == seed:
            show_verdict(kept[1])
        entry = entries.get(eid)
        if entry and entry.tries:
            st.caption(words["tries"].format(n=entry.tries))
        if entry and not entry.passed and entry.tries >= limits.COURSE_TRIES_BEFORE_ANSWER:
            if not entry.answer_shown:
                record(eid, None, answer_shown=True)
            with st.expander(words["worked"], icon=":material/school:", expanded=True):
                st.markdown(as_text(instance.worked(lang), limit=2_000))
                st.caption(words["proof"])
                st.code(instance.proof, language="python")


def draw_step(step: Step) -> None:
    number = next(i for i, s in enumerate(STEPS, 1) if s.key == step.key)
    st.subheader(f"{number}. {step.title(lang)}")
    st.markdown(as_text(step.text(lang), limit=3_000))
    st.page_link(step.page, label=as_text(step.link_label(lang)), icon=":material/open_in_new:",
                 query_params=step.query_params or None)
    for name, label in step.lessons:  # a Model Builder lesson: the model set up, what to look at, and its fix
        st.page_link(step.page, label=as_text(label(lang)), icon=":material/school:", query_params={"lesson": name})
    for i, exercise in enumerate(step.exercises, 1):
        draw_exercise(exercise, i)


with step_column:
    draw_step(STEPS_BY_KEY[st.session_state["course_step_current"]])

with steps_column:
    st.download_button(words["download"], summary_markdown(entries, lang), file_name="course-summary.md",
                       mime="text/markdown", icon=":material/download:", key="course_download")
    if st.button(words["reset"], key="course_reset", icon=":material/restart_alt:"):
        st.session_state["course_confirm_reset"] = True
    if st.session_state.get("course_confirm_reset"):
        if st.button(words["confirm"], key="course_reset_confirmed", type="primary"):
            try:
                progress.reset(owner)
            except PlaygroundError as exc:
                show_error(exc)
            st.session_state.pop("course_confirm_reset", None)
            for key in [k for k in st.session_state if str(k).startswith("course_verdict_")]:
                del st.session_state[key]
            st.rerun()

if owners.mode_from_env() == owners.SHARED:
    with st.expander(words["teacher"], icon=":material/groups:"):
        try:
            counts = progress.passed_counts()
            st.caption(words["visitors"].format(n=progress.visitors()))
            st.dataframe([{words["exercise"]: f"{EXERCISES[eid].title(lang)} ({eid})", words["count"]: counts[eid]}
                          for eid in EXERCISES], hide_index=True, key="course_teacher")
        except PlaygroundError as exc:
            show_error(exc)
