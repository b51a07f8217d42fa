"""Scale of the work: training steps per second as the model grows and as the data grows.

    python -m bench scale

The app's engine (``playground.builder.training.Trainer``, the loop the background workers run) trains in this
process on one torch thread, as a worker does. Each cell trains for a fixed slice of time (stopped
through the engine's own control hook mid-epoch) and counts the optimizer steps. The baseline is the
Model Builder's default run (2 -> 8 -> 8 -> 2 tanh, 500 samples, batch 10), measured at the start, the
middle and the end of the run (median), so each cell's ratio says how much slower a step is than the
default's. For the data sizes, what grows is the epoch: its time is steps per epoch / steps per second
plus the validation and training-accuracy passes (timed).
"""

from __future__ import annotations

import math
import time

from bench.common import Section, median, section_stamp, write_sections

TITLE = "Scale of the work"
SLICE_S = 0.25
ROUNDS = 3


def _trainer(hidden=(8, 8), activation="tanh", n_samples=500, batch=10):
    from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
    from playground.builder.datasets import prepare_data
    from playground.builder.training import Trainer

    config = RunConfig(
        data=DataConfig(dataset="circle", n_samples=n_samples),
        model=ModelSpec(in_features=2, hidden=tuple(hidden), activations=(activation,) * len(hidden), out_features=2),
        train=TrainConfig(optimizer="adam", lr=0.03, batch_size=batch, epochs=1),
    )
    return Trainer(config, prepare_data(config.data).arrays())


def steps_per_second(trainer, seconds: float = SLICE_S) -> float:
    """Steps per second over about ``seconds`` of training (the engine's epochs, stopped mid-epoch)."""
    from playground.builder.training import Stopped

    steps, started = trainer.steps, time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        try:
            trainer.train_epoch(control=lambda: time.perf_counter() >= deadline)
        except Stopped:
            break
    return (trainer.steps - steps) / (time.perf_counter() - started)


def eval_seconds(trainer) -> float:
    started = time.perf_counter()
    trainer.evaluate(trainer.X_val, trainer.y_val)
    trainer.evaluate(trainer.X_train, trainer.y_train)
    return time.perf_counter() - started


def measure(widths=(8, 32, 128, 256), depths=(1, 2, 4, 8), depth_width=32, sizes=(1_000, 10_000, 100_000),
            slice_s: float = SLICE_S, rounds: int = ROUNDS, log=print) -> dict:
    """Every cell takes turns with the baseline, slice by slice, ``rounds`` times; ratios are per pair."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a training worker does
    try:
        cells = []  # (group, label, trainer)
        for width in widths:
            cells.append(("width", f"2 x {width}", _trainer(hidden=(width, width))))
        for depth in depths:
            cells.append(("depth", f"{depth} x {depth_width}", _trainer(hidden=(depth_width,) * depth)))
        for n in sizes:
            cells.append(("data", n, _trainer(n_samples=n)))
        base_trainer = _trainer()
        for trainer in [base_trainer] + [c[2] for c in cells]:
            steps_per_second(trainer, 0.05)  # warm-up
        baseline, rates, ratios = [], {i: [] for i in range(len(cells))}, {i: [] for i in range(len(cells))}
        for _ in range(rounds):
            for i, (_, _, trainer) in enumerate(cells):
                b = steps_per_second(base_trainer, slice_s)
                c = steps_per_second(trainer, slice_s)
                baseline.append(b)
                rates[i].append(c)
                ratios[i].append(c / b)
        out = {"baseline": baseline, "width": [], "depth": [], "data": []}
        for i, (group, label, trainer) in enumerate(cells):
            rate, ratio = median(rates[i]), median(ratios[i])
            if group == "data":
                per_epoch = math.ceil(trainer.n_train / trainer.batch_size)
                ev = eval_seconds(trainer)
                out["data"].append((label, trainer.n_train, per_epoch, rate, ratio, per_epoch / rate + ev))
                log(f"  {label} samples: {rate:.0f} steps/s ({ratio:.2f}x), epoch {per_epoch / rate + ev:.2f} s")
            else:
                params = sum(p.numel() for p in trainer.model.parameters())
                out[group].append((label, params, rate, ratio))
                log(f"  {label}: {rate:.0f} steps/s ({ratio:.2f}x the default)")
    finally:
        torch.set_num_threads(threads)
    return out


def run(write: bool = True, log=print, **kwargs) -> Section:
    stamp = section_stamp()
    r = measure(log=log, **kwargs)
    base = median(r["baseline"])
    s = Section(TITLE)
    s.add(stamp, "",
          f"The engine on one torch thread (as a worker), Adam, circle data. Each cell and the baseline take turns "
          f"in slices of {SLICE_S} s, {ROUNDS} rounds; steps/s is the cell's median, the ratio the median of the "
          f"paired ratios. Baseline (same run): the default model (2 -> 8 -> 8 -> 2 tanh, 500 samples, batch 10), "
          f"**{base:.0f} steps/s** median (range {min(r['baseline']):.0f}..{max(r['baseline']):.0f}). "
          "No target: this table shows a user how cost grows.", "",
          "**As the model grows** (500 samples, batch 10):", "",
          "| hidden layers | parameters | steps/s | ratio to default |", "|---|---|---|---|")
    for label, params, rate, ratio in r["width"] + r["depth"]:
        s.add(f"| {label} | {params:,} | {rate:.0f} | {ratio:.2f}x |")
    s.add("", "**As the data grows** (default model, batch 10, 60% for training):", "",
          "| samples | training rows | steps an epoch | steps/s | ratio to default | seconds an epoch (validation included) |",
          "|---|---|---|---|---|---|")
    for n, n_train, per_epoch, rate, ratio, epoch_s in r["data"]:
        s.add(f"| {n:,} | {n_train:,} | {per_epoch:,} | {rate:.0f} | {ratio:.2f}x | {epoch_s:.2f} |")
    s.add("", "A step's cost is nearly flat while the model is small (Python and autograd overhead per step "
          "dominate), then grows with the parameters; with more data a step costs the same and an epoch grows "
          "in proportion to the rows.")
    if write:
        write_sections([s])
    return s


def main(argv: list[str] | None = None) -> int:
    print(run().text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
