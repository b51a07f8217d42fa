"""Sweeps: every member trained at once, against the same members trained one after another.

    python -m bench sweep

The Model Builder's default setup (2 -> 8 -> 8 -> 2 tanh, 500 circle samples, batch 10, Adam), as issue 13
measured it: 16 members (16 learning rates on a log range) and 64 (those 16 rates x 4 seeds). The sweep engine
(``playground.builder.sweep.SweepTrainer``) trains the members together; the baseline is the single-run
engine (``playground.builder.training.Trainer``) training the same members one after another. Both run in
this process on one torch thread (as a training worker does), timed in CPU seconds of the process (the
machine is shared), whole epochs with their validation; the two take turns in rounds, and which goes first
alternates. Aggregate steps per second counts member-steps; the ratio is the median of the rounds' ratios.
Targets (issue 13): >= 10x at 16 members, >= 25x at 64.

Memory per member: the bytes of the tensors an engine keeps for one member (weights, gradients, optimizer
state, the last finite weights; the data is shared and counted apart), and the process's resident memory
growth while the engine is built and trains its first epoch, per member.
"""

from __future__ import annotations

import time

from bench.common import Budget, Row, Section, median, section_stamp, table, write_sections

TITLE = "Sweeps"
MEMBERS = (16, 64)
TARGETS = {16: 10.0, 64: 25.0}
ROUNDS = 5
EPOCHS = 2  # epochs of each engine in a round (every member, in the baseline)


def sweep_config(members: int, n_samples: int = 500):
    """``members`` learning rates from 0.001 to 0.1 (with 4 seeds each from 64 members on)."""
    from playground.builder.config import DataConfig, RunConfig
    from playground.builder.sweep import SweepAxis, SweepConfig

    base = RunConfig(data=DataConfig(dataset="circle", n_samples=n_samples))
    seeds = 4 if members >= 64 else 1
    axes = [SweepAxis("lr", low=0.001, high=0.1, count=members // seeds)]
    if seeds > 1:
        axes.append(SweepAxis("seed", values=tuple(range(seeds))))
    return SweepConfig(base, tuple(axes))


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def tensor_bytes(*objects) -> int:
    """Bytes of the distinct tensor storages reachable from these objects' attributes (one level of lists,
    tuples and dicts, and modules' and optimizers' own tensors), the data splits left out."""
    import torch

    seen, total = set(), 0

    def add(t) -> None:
        nonlocal total
        if isinstance(t, torch.Tensor):
            key = t.untyped_storage().data_ptr()
            if key not in seen:
                seen.add(key)
                total += t.untyped_storage().nbytes()
        elif isinstance(t, (list, tuple)):
            for x in t:
                add(x)
        elif isinstance(t, dict):
            for x in t.values():
                add(x)
        elif isinstance(t, torch.nn.Module):
            for x in t.state_dict().values():
                add(x)
            for p in t.parameters():
                add(p.grad)
        elif isinstance(t, torch.optim.Optimizer):
            for state in t.state.values():
                add(state)
        elif hasattr(t, "__dict__") and type(t).__module__.startswith("playground"):
            add(vars(t))

    for obj in objects:
        for name, value in vars(obj).items():
            if not name.startswith(("X_", "y_", "_tensors")):
                add(value)
    return total


def _epochs(trainer, epochs: int) -> int:
    before = trainer.steps
    for _ in range(epochs):
        trainer.run_epoch()
    return trainer.steps - before


def measure(members_list=MEMBERS, rounds: int = ROUNDS, epochs: int = EPOCHS, n_samples: int = 500,
            budget: Budget | None = None, log=print) -> dict:
    """For each member count: aggregate steps/s of the sweep and of the members one after another, per round."""
    import torch

    from playground.builder.datasets import prepare_data
    from playground.builder.sweep import SweepTrainer
    from playground.builder.training import Trainer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a training worker does
    out = {}
    try:
        warm = sweep_config(2, 100)  # imports and first-use costs paid before anything is measured
        warm_tensors = prepare_data(warm.base.data).arrays()
        SweepTrainer(warm, warm_tensors).run_epoch()
        Trainer(warm.member(0), warm_tensors).run_epoch()
        for members in members_list:
            sweep = sweep_config(members, n_samples)
            tensors = prepare_data(sweep.base.data).arrays()
            rss = _rss_mb()
            started = time.process_time()
            trainer = SweepTrainer(sweep, tensors)
            setup_s = time.process_time() - started
            trainer.run_epoch()  # warm-up: the passes traced at their first use, and the check against a single run
            sweep_rss = (_rss_mb() - rss) / members
            rss = _rss_mb()
            runs = [Trainer(member, tensors) for member in sweep.members()]
            for run in runs:
                run.run_epoch()  # warm-up
            single_rss = (_rss_mb() - rss) / members
            sweep_rates, single_rates, ratios = [], [], []
            for r in range(rounds):
                if budget is not None and r >= 1 and budget.used(0.4 * (members_list.index(members) + 1)):
                    break
                timed = {}
                for which in (("sweep", "single") if r % 2 == 0 else ("single", "sweep")):
                    started = time.process_time()
                    if which == "sweep":
                        steps = _epochs(trainer, epochs) * len(trainer.active)
                    else:
                        steps = sum(_epochs(run, epochs) for run in runs)
                    timed[which] = steps / (time.process_time() - started)
                sweep_rates.append(timed["sweep"])
                single_rates.append(timed["single"])
                ratios.append(timed["sweep"] / timed["single"])
                log(f"  {members} members, round {r + 1}: sweep {timed['sweep']:.0f} member-steps/s, one after another "
                    f"{timed['single']:.0f} steps/s = {ratios[-1]:.1f}x")
            sweep_bytes = tensor_bytes(trainer) / members
            single_bytes = tensor_bytes(runs[0])
            report = trainer.exactness()
            out[members] = {"sweep": sweep_rates, "single": single_rates, "ratios": ratios, "setup_s": setup_s,
                            "sweep_bytes": sweep_bytes, "single_bytes": single_bytes, "sweep_rss_mb": sweep_rss,
                            "single_rss_mb": single_rss, "exactness": report,
                            "parameters": trainer.n_parameters}
    finally:
        torch.set_num_threads(threads)
    return out


def run(write: bool = True, log=print, **kwargs) -> Section:
    stamp = section_stamp()
    budget = Budget(100)
    r = measure(log=log, budget=budget, **kwargs)
    s = Section(TITLE)
    rows = []
    for members, m in r.items():
        ratio = median(m["ratios"])
        target = TARGETS.get(members)
        rows.append(Row(f"aggregate steps/s, {members} members trained together (sweep engine)", median(m["sweep"]),
                        "member-steps/s", f"the same {members} members one after another (Trainer)",
                        median(m["single"]), f">= {target:g}x" if target else "",
                        (ratio >= target) if target else None,
                        f"median of {len(m['ratios'])} rounds' ratios {ratio:.1f}x, "
                        f"range {min(m['ratios']):.1f}..{max(m['ratios']):.1f}"))
    for members, m in r.items():
        rows.append(Row(f"tensor bytes a member keeps, {members} members", m["sweep_bytes"], "bytes",
                        "one run's Trainer", m["single_bytes"], "", None,
                        f"{m['parameters']} parameters a member; the data is shared"))
        rows.append(Row(f"resident memory growth a member (built, first epoch: its passes traced, its check), {members} members",
                        m["sweep_rss_mb"], "MB", f"{members} Trainers, one a member", m["single_rss_mb"], "", None))
    s.add(stamp, "",
          f"The default model and data (2 -> 8 -> 8 -> 2 tanh, 500 circle samples, batch 10, Adam); 16 members are "
          "16 learning rates from 0.001 to 0.1, 64 members those rates x 4 seeds. One torch thread, CPU seconds of "
          f"the process, {EPOCHS} whole epochs (validation included) an engine a round, the engines alternating "
          "and taking turns to go first.", "", table(rows), "")
    for members, m in r.items():
        e = m["exactness"]
        found = ("bit for bit" if e["bit_for_bit"] else f"weights within {e['weights_difference']:.1g} of the largest "
                 f"weight, losses within {e['loss_difference']:.1g} relative") if e["checked"] else "not checked"
        s.add(f"- {members} members: building the sweep took {m['setup_s']:.2f} CPU s; after its first epoch the engine "
              f"trained member {e.get('member', 0) + 1} again alone as a single run ({e.get('steps', 0)} steps, "
              f"{e.get('seconds', 0.0):.2f} CPU s) and found it {found}; optimizer updates: {e['optimizer']}.")
    s.add("", "The sweep engine is torch's own computation batched (vmap over functional_call, the run's criterion, "
          "autograd, the optimizer row's batched form tested against torch.optim), not the run's arithmetic bit for "
          "bit: batched products add in another order. How close each member stays to its single run is measured "
          "(the check above, in every sweep; tests/unit/builder/test_sweep.py: 1e-4 relative over 20 epochs for "
          "every optimizer, activation and loss row).")
    if write:
        write_sections([s])
    return s


def main(argv: list[str] | None = None) -> int:
    print(run().text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
