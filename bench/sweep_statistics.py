"""Sweeps with each member's per-layer statistics on vs off (issue 23).

    python -m bench sweep_statistics

The worker's own sweep job loop (``execution/worker.run_job``, as a Play press on the Sweeps page runs it, with
its time share for the statistics) in this process, on one torch thread: the Model Builder's default setup
(2 -> 8 -> 8 -> 2 tanh, 500 circle samples, Adam), 16 learning rates, at batch 10 (20 epochs) and full batch
(300 epochs), once with each member's per-layer statistics (``builder/sweep_layer_stats.py``) and once without,
alternated, which goes first alternating. Member-steps per CPU-second of the job; the ratio is the median of the
rounds' ratios. Target >= 0.9x.
"""

from __future__ import annotations

from bench.common import Row, Section, median, section_stamp, table, write_sections
from bench.sweep import sweep_config

TITLE = "Sweeps: each member's per-layer statistics"


class _Conn:
    """The job's two connections, in process: no control messages; the end's statistics kept."""

    def __init__(self) -> None:
        self.done: dict | None = None

    def poll(self, timeout: float | None = None) -> bool:
        return False

    def send(self, message: tuple) -> None:
        if message[0] == "done":
            self.done = message[5]


def job_rate(sweep, tensors, layer_stats: bool) -> float:
    """Member-steps per CPU-second of the worker's sweep job (``run_job``) with the statistics on or off."""
    from playground.execution.jobs import sweep_payload
    from playground.execution.worker import run_job

    payload = sweep_payload(sweep, tensors, plane_features=sweep.base.data.features)
    payload["layer_stats"] = layer_stats
    conn = _Conn()
    run_job(0, payload, conn, conn)
    return conn.done["steps"] * sweep.n_members / conn.done["train_cpu_seconds"]


def statistics_cost(members: int = 16, rounds: int = 3, log=print,
                    plans: tuple = ((10, 20), (1000, 300))) -> list[dict]:
    """The sweep job with its members' statistics on vs off, at batch 10 and full batch, alternated."""
    from dataclasses import replace

    import torch

    from playground.builder.datasets import prepare_data
    from playground.builder.sweep import SweepConfig

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = []
    try:
        for batch, epochs in plans:  # (batch size, epochs)
            base = sweep_config(members)
            config = replace(base.base, train=replace(base.base.train, batch_size=batch, epochs=epochs))
            sweep = SweepConfig(config, base.axes)
            tensors = prepare_data(config.data).arrays()
            job_rate(sweep, tensors, True)  # warm-up: traced passes
            on, off, ratios = [], [], []
            for r in range(rounds):
                rates = {}
                for stats in ((True, False) if r % 2 else (False, True)):
                    rates[stats] = job_rate(sweep, tensors, stats)
                on.append(rates[True])
                off.append(rates[False])
                ratios.append(rates[True] / rates[False])
                log(f"  statistics, batch {batch}, round {r + 1}: on {rates[True]:.0f}, off {rates[False]:.0f} "
                    f"member-steps/s = {ratios[-1]:.2f}x")
            out.append({"batch": batch, "epochs": epochs, "on": on, "off": off, "ratios": ratios,
                        "n_train": len(tensors["y_train"])})
    finally:
        torch.set_num_threads(threads)
    return out


def run(write: bool = True, log=print) -> Section:
    stamp = section_stamp()
    rows = []
    for c in statistics_cost(log=log):
        ratio = median(c["ratios"])
        label = "full batch" if c["batch"] >= c["n_train"] else f"batch {c['batch']}"
        rows.append(Row(f"sweep job with each member's per-layer statistics on, 16 members, {label}, member-steps per "
                        f"CPU-second ({c['epochs']} epochs x {len(c['ratios'])} rounds)", median(c["on"]),
                        "member-steps/s", "the same job, statistics off", median(c["off"]), ">= 0.9x", ratio >= 0.9,
                        f"median of the rounds' ratios {ratio:.2f}x, range {min(c['ratios']):.2f}..{max(c['ratios']):.2f}"))
    s = Section(TITLE)
    s.add(stamp, "", __doc__.split("\n\n", 2)[2].strip(), "", table(rows), "",
          "Per step a recorded epoch adds one product (every member's squared weight-gradient norm of every layer); "
          "per recorded epoch, every member's histograms and quantiles (one sort a layer for all members) and, "
          "before a ReLU, a vmapped pass over up to limits.LAYER_STATS_ROWS training rows. A sweep's summaries take "
          "at most 2.5% of the job's time (worker.SWEEP_LAYER_STATS_SHARE; the first and the last epoch always), so "
          "a short job pays those two summaries most.")
    if write:
        write_sections([s])
    return s


def main(argv: list[str] | None = None) -> int:
    print(run().text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
