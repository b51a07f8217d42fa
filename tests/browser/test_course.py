"""The Course page in Chromium: one exercise of each kind answered (a shape, values, a dtype, an expression, a choice,
a line order, state_dict keys, and the accuracy of a kept run), a wrong answer's hint, the progress bar, and the
language kept in the URL."""

from __future__ import annotations

import re

import pytest

from playground.course.catalog import EXERCISES
from playground.runs import owners
from playground.runs.store import SqliteRunStore
from tests.browser.conftest import ARTIFACTS, free_port, open_page, start_app, stop_app, wait_idle
from tests.unit.course.test_run_check import kept_run

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def course_url(tmp_path_factory, chromium_path):
    """A server whose store holds one kept XOR run that solves it (the accuracy exercise checks it)."""
    data_dir = tmp_path_factory.mktemp("course-data")
    SqliteRunStore(data_dir).save(kept_run(True, claimed_val_acc=0.0), owner=owners.PERSONAL_OWNER)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = start_app(port, data_dir, ARTIFACTS / "server-course.log", {"PLAYGROUND_MODE": "personal"})
    yield f"http://127.0.0.1:{port}"
    stop_app(proc)


def open_course(tab, url: str, query: str) -> None:
    open_page(tab, url, f"course?{query}")
    tab.wait_for_selector(".st-key-course_step", timeout=120_000)  # the first run imports torch
    # the progress line and the step list are drawn beside the step: wait for them too (under load they come later)
    tab.get_by_text(re.compile(r"exercises passed|道练习")).first.wait_for(timeout=120_000)
    wait_idle(tab)


def type_answer(tab, exercise_id: str, text: str) -> None:
    box = tab.locator(f".st-key-course_answer_{exercise_id}_0 input")
    box.fill(text)
    box.press("Enter")
    wait_idle(tab)
    check(tab, exercise_id)


def check(tab, exercise_id: str) -> None:
    tab.locator(f".st-key-course_check_{exercise_id} button").click()
    wait_idle(tab)


def box_text(tab, exercise_id: str) -> str:
    return tab.locator(f".st-key-course_ex_{exercise_id}").inner_text()


def test_one_exercise_of_each_kind(page, course_url):
    open_course(page, course_url, "step=tensors")
    assert "0 of 43 exercises passed" in page.inner_text("body")
    type_answer(page, "squeeze", "3, 2")  # wrong first: the hint
    assert "squeeze(0) removes dimension 0" in box_text(page, "squeeze")
    page.locator(".st-key-course_answer_squeeze_0 input").fill("torch.Size([2, 3])")
    page.locator(".st-key-course_answer_squeeze_0 input").press("Enter")
    wait_idle(page)
    check(page, "squeeze")
    assert "Right." in box_text(page, "squeeze")
    type_answer(page, "pow", "[1, 4, 9, 16]")
    assert "Right." in box_text(page, "pow")
    type_answer(page, "tensor-dtype", "torch.int64")
    assert "Right." in box_text(page, "tensor-dtype")

    open_course(page, course_url, "step=gradient")
    type_answer(page, "expr-square", "(x * x).sum()")
    assert "Right." in box_text(page, "expr-square")

    open_course(page, course_url, "step=activations")
    page.locator(".st-key-course_answer_activation-choice_0").get_by_text("nn.Sigmoid()").click()
    wait_idle(page)
    check(page, "activation-choice")
    assert "Right." in box_text(page, "activation-choice")

    open_course(page, course_url, "step=training")
    order = ", ".join(map(str, EXERCISES["train-order"].instance(0).truth))
    type_answer(page, "train-order", order)
    assert "Right." in box_text(page, "train-order")

    open_course(page, course_url, "step=save")
    type_answer(page, "state-keys", "0.weight, 0.bias, 2.weight, 2.bias")
    assert "Right." in box_text(page, "state-keys")

    open_course(page, course_url, "step=validation")
    link = page.locator(".st-key-course_ex_accuracy-run a")
    assert "dataset=xor" in link.get_attribute("href")
    check(page, "accuracy-run")
    assert "validation accuracy (recomputed from its weights)" in box_text(page, "accuracy-run")
    assert "8 of 43 exercises passed" in page.inner_text("body")

    page.get_by_text("简体中文").click()
    wait_idle(page)
    assert "lang=zh" in page.url
    assert "已通过 8 / 43 道练习" in page.inner_text("body")
    page.screenshot(path=str(ARTIFACTS / "course.png"))
