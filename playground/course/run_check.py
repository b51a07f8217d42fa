"""The exercise checked from a kept run: a model on the asked dataset whose validation accuracy reaches the mark.

The accuracy is recomputed from the run's own weights on its own validation split (regenerated from its kept
configuration), never read from the run's history or claimed by the page: the store is asked for the owner's newest
kept runs of that dataset (at most ``limits.COURSE_RUNS_CHECKED``)."""

from __future__ import annotations

from dataclasses import dataclass

from playground import limits
from playground.builder.datasets import prepare_data
from playground.builder.evaluation import accuracy, predict
from playground.course.exercises import RUN, Instance, Text, Verdict
from playground.errors import PlaygroundError
from playground.runs.store import RunQuery, RunStore


@dataclass(frozen=True)
class RunResult:
    """The best kept run found: its id and its validation accuracy as recomputed here (None: no run of that data)."""

    run_id: str | None
    accuracy: float | None


def validation_accuracy(store: RunStore, run_id: str) -> float:
    """A kept run's validation accuracy, from its weights and its regenerated validation split."""
    record = store.get(run_id)
    data = prepare_data(record.config.data)
    if data.task != "classification" or len(data.y_val) == 0:
        raise PlaygroundError("That run has no classification validation split to measure.")
    return accuracy(predict(record.build(), data.X_val).argmax(dim=1), data.y_val)


def best_run(store: RunStore, owner: str, dataset: str) -> RunResult:
    """The owner's kept run of ``dataset`` with the highest recomputed validation accuracy, among the newest ones."""
    summaries = store.list(owner, RunQuery(datasets=(dataset,), limit=limits.COURSE_RUNS_CHECKED))
    best = RunResult(None, None)
    for summary in summaries[: limits.COURSE_RUNS_CHECKED]:
        if summary.config.data.dataset != dataset:
            continue
        try:
            value = validation_accuracy(store, summary.run_id)
        except PlaygroundError:
            continue
        if best.accuracy is None or value > best.accuracy:
            best = RunResult(summary.run_id, value)
    return best


def check_run(instance: Instance, store: RunStore, owner: str) -> Verdict:
    """Right when one of the owner's kept runs of the asked dataset reaches the mark."""
    if instance.kind != RUN:
        raise ValueError("only a RUN exercise is checked from the run store")
    dataset, mark = instance.truth
    found = best_run(store, owner, dataset)
    if found.accuracy is None:
        return Verdict(False, Text(f"No kept run on the {dataset} data yet: train one in the Model Builder and keep it "
                                   "(runs are kept when they finish).",
                                   f"还没有保存的 {dataset} 数据运行:请在 Model Builder 中训练并保存一次(运行结束时会自动保存)。"),
                       readable=False)
    if found.accuracy >= mark:
        return Verdict(True, Text(f"Right: run {found.run_id} reaches {found.accuracy:.1%} validation accuracy "
                                  "(recomputed from its weights).",
                                  f"正确:运行 {found.run_id} 的验证准确率为 {found.accuracy:.1%}(由其权重重新计算)。"))
    return Verdict(False, Text(f"Your best kept run reaches {found.accuracy:.1%}, below {mark:.0%}. "
                               f"{instance.hint.en}",
                               f"你最好的运行为 {found.accuracy:.1%},低于 {mark:.0%}。{instance.hint.zh}"))
