"""GPU check: train on cuda and on cpu with the same seed, compare the results and the speed.

    python bench/gpu_check.py            # everything, printed, and a "GPU check" section in bench/RESULTS.md
    python bench/gpu_check.py --quick    # small sizes (a smoke run; also what the unit test calls)

Where CUDA is present it trains two models with the app's own engine (``playground.builder.training.Trainer``:
same seed, same initial weights built on the CPU, same shuffled batches from a CPU generator, Adam):

- the Model Builder's default model on its default data (2 -> 8 -> 8 -> 2, 500 samples, batch 10);
- a large one: 8 hidden layers x 1024 (ReLU), 100,000 samples, batch 4,096, a few epochs. The app's
  own limit is 256 neurons a layer (``playground.limits.MAX_LAYER_WIDTH``); this check lifts it for its
  own process only, so the same engine trains it.

For each it reports steps per second on both devices, and whether cuda agrees with cpu within float32
tolerance: one forward and backward from identical weights on the same batch (outputs and gradients; only
the order of float32 sums differs), with each device's gradient error against a float64 run beside it.
That decides "agree". It then follows the first ``EARLY_STEPS`` optimizer steps one by one (batch losses,
and each device's distance from a float64 run of the same steps) and the whole run (per-epoch losses,
final weights): these are reported, not judged, because training compounds rounding differences (Adam's
early updates are close to lr * sign(grad), so a gradient near zero whose float32 rounding differs moves
its weight by up to 2 * lr). cuda is also run twice, to show it is deterministic run to run. TF32 is off,
so cuda computes in true float32.
It also reports the card's name and whether the app picks the GPU by itself
(``playground.device.default_device()``). Without CUDA it says so and exits 0.

Sweeps (``playground.builder.sweep.SweepTrainer``): 64 and 256 members (learning rates on a log range, times
seeds) of the default model and of a larger one (2 x 256 ReLU, 5,000 samples, batch 64), trained for a slice
of time on cuda and on the cpu (all its threads); member-steps per second on each and their ratio, and whether
``playground.device.choose_device`` picks the faster of the two. The app allows 64 members; this check lifts
its sweep limits for its own process only.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: python bench/gpu_check.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Section, machine, now_utc, write_sections  # noqa: E402

# Forward/backward from identical weights: float32 with a different summation order.
FIRST_STEP_RTOL = 1e-4
FIRST_STEP_ATOL = 1e-5
# The first steps of training, step by step (reported: "close" or not, never part of "agree").
EARLY_STEPS = 10
EARLY_LOSS_RTOL = 1e-4
# ... or, where rounding has already grown (a deep model under Adam), cuda's distance from a float64
# reference run is at most this many times cpu float32's own distance from it.
EARLY_ERROR_RATIO = 4.0


@dataclass
class Case:
    name: str
    hidden: tuple[int, ...]
    activation: str
    n_samples: int
    batch_size: int
    epochs: int
    lr: float
    dataset: str = "circle"


FULL_CASES = (
    Case("default model (2-8-8-2 tanh, 500 samples, batch 10)", (8, 8), "tanh", 500, 10, 20, 0.03),
    Case("large model (8 x 1024 relu, 100,000 samples, batch 4,096)", (1024,) * 8, "relu", 100_000, 4096, 3, 1e-3),
)
@dataclass
class SweepCase:
    name: str
    hidden: tuple[int, ...]
    activation: str
    n_samples: int
    batch_size: int
    members: tuple[int, ...]


SWEEP_SLICE_S = 3.0  # seconds of training timed per sweep and device
FULL_SWEEP_CASES = (
    SweepCase("default model (2-8-8-2 tanh, 500 samples, batch 10)", (8, 8), "tanh", 500, 10, (64, 256)),
    SweepCase("larger model (2 x 256 relu, 5,000 samples, batch 64)", (256, 256), "relu", 5000, 64, (64, 256)),
)
QUICK_SWEEP_CASES = (
    SweepCase("default model, shrunk for --quick (4 and 8 members)", (8, 8), "tanh", 200, 10, (4, 8)),
)

QUICK_CASES = (
    Case("default model (2-8-8-2 tanh, 500 samples, batch 10)", (8, 8), "tanh", 500, 10, 2, 0.03),
    Case("large model, shrunk for --quick (2 x 64 relu, 2,000 samples, batch 256)", (64, 64), "relu", 2000, 256, 2, 1e-3),
)


@contextlib.contextmanager
def wider_limits(width: int, layers: int):
    """Let this process build a model wider than the app allows (the check's large model)."""
    from playground import limits

    saved = limits.MAX_LAYER_WIDTH, limits.MAX_HIDDEN_LAYERS
    limits.MAX_LAYER_WIDTH = max(saved[0], width)
    limits.MAX_HIDDEN_LAYERS = max(saved[1], layers)
    try:
        yield
    finally:
        limits.MAX_LAYER_WIDTH, limits.MAX_HIDDEN_LAYERS = saved


@contextlib.contextmanager
def wider_sweep_limits():
    """Let this process train sweeps larger than the app allows (256 members, large models)."""
    from playground import limits

    names = ("MAX_SWEEP_MEMBERS", "MAX_SWEEP_PARAMETERS", "MAX_SWEEP_WORK", "MAX_SWEEP_ACTIVATIONS")
    saved = {name: getattr(limits, name) for name in names}
    for name, value in zip(names, (256, 10**9, 10**14, 10**11), strict=True):
        setattr(limits, name, max(saved[name], value))
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(limits, name, value)


def sweep_for(case: SweepCase, members: int, device: str):
    """``members`` learning rates from 1e-4 to 0.1 (x 4 seeds from 128 members on), Adam, on ``device``."""
    from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
    from playground.builder.sweep import SweepAxis, SweepConfig

    seeds = 4 if members >= 128 else 1
    with wider_limits(max(case.hidden), len(case.hidden)), wider_sweep_limits():
        spec = ModelSpec(in_features=2, hidden=case.hidden, activations=(case.activation,) * len(case.hidden),
                         out_features=2)
        base = RunConfig(data=DataConfig(dataset="circle", n_samples=case.n_samples), model=spec,
                         train=TrainConfig(optimizer="adam", batch_size=case.batch_size, device=device))
        axes = [SweepAxis("lr", low=1e-4, high=0.1, count=members // seeds)]
        if seeds > 1:
            axes.append(SweepAxis("seed", values=tuple(range(seeds))))
        return SweepConfig(base, tuple(axes))


def sweep_rate(case: SweepCase, members: int, device: str, tensors: dict, seconds: float) -> dict:
    """Member-steps per second of a sweep on ``device`` over about ``seconds`` (after a warm-up epoch)."""
    from playground.builder.sweep import SweepTrainer
    from playground.builder.training import Stopped

    sweep = sweep_for(case, members, device)
    with wider_limits(max(case.hidden), len(case.hidden)), wider_sweep_limits():
        trainer = SweepTrainer(sweep, tensors, device=device)
    deadline = [time.perf_counter() + 0.05]

    def stop() -> bool:
        sync(device)
        return time.perf_counter() >= deadline[0]

    import playground.builder.sweep as sweep_module

    saved = sweep_module.CHECK_EVERY_S
    sweep_module.CHECK_EVERY_S = 0.0  # ask after every step, so the slice ends on time
    try:
        trainer.train_epoch()  # warm-up: every batch shape once (kernels, and the passes traced at their first use)
        sync(device)
        steps, started = trainer.steps, time.perf_counter()
        deadline[0] = started + seconds
        while time.perf_counter() < deadline[0]:
            try:
                trainer.train_epoch(control=stop)
            except Stopped:
                break
        sync(device)
    finally:
        sweep_module.CHECK_EVERY_S = saved
    elapsed = time.perf_counter() - started
    return {"steps": trainer.steps - steps, "seconds": elapsed,
            "member_steps_per_s": (trainer.steps - steps) * len(trainer.active) / elapsed,
            "parameters": trainer.n_parameters}


def check_sweeps(case: SweepCase, cuda: str, log, seconds: float = SWEEP_SLICE_S) -> list[dict]:
    """Each member count of ``case`` on ``cuda`` and on the cpu; the device rule's choice beside the faster."""
    from playground.builder.datasets import prepare_data
    from playground.device import choose_device

    tensors = prepare_data(sweep_for(case, case.members[0], "cpu").base.data).arrays()
    log(f"\n== sweeps of the {case.name}")
    out = []
    for members in case.members:
        gpu = sweep_rate(case, members, cuda, tensors, seconds)
        cpu = sweep_rate(case, members, "cpu", tensors, seconds)
        ratio = gpu["member_steps_per_s"] / cpu["member_steps_per_s"]
        picked, _ = choose_device(gpu["parameters"], members=members, rows=case.batch_size, cuda=True)
        faster = cuda if ratio > 1 else "cpu"
        agrees = picked.startswith("cuda") == faster.startswith("cuda")
        log(f"   {members} members: {cuda} {gpu['member_steps_per_s']:.0f} member-steps/s ({gpu['steps']} steps), "
            f"cpu {cpu['member_steps_per_s']:.0f} ({cpu['steps']} steps) = {ratio:.2f}x; "
            f"choose_device picks {picked} -> {'agrees' if agrees else 'DISAGREES'} with the measurement")
        out.append({"case": case, "members": members, "gpu": gpu, "cpu": cpu, "ratio": ratio, "picked": picked,
                    "agrees": agrees})
    return out


def config_for(case: Case, seed: int = 0):
    from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig

    with wider_limits(max(case.hidden), len(case.hidden)):
        spec = ModelSpec(in_features=2, hidden=case.hidden, activations=(case.activation,) * len(case.hidden),
                         out_features=2)
    return RunConfig(data=DataConfig(dataset=case.dataset, n_samples=case.n_samples, seed=seed), model=spec,
                     train=TrainConfig(optimizer="adam", lr=case.lr, batch_size=case.batch_size, epochs=case.epochs,
                                       seed=seed))


def make_trainer(config, tensors, device: str):
    from playground.builder.training import Trainer

    with wider_limits(max(config.model.hidden), len(config.model.hidden)):
        return Trainer(config, tensors, device=device)


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def first_step(config, tensors, device: str, float64: bool = False) -> dict:
    """One forward and backward on the first batch from the seeded initial weights: outputs and grads on cpu."""
    trainer = make_trainer(config, tensors, device)
    n = min(config.train.batch_size, len(trainer.y_train))
    X, y = trainer.X_train[:n], trainer.y_train[:n]
    if float64:
        trainer.model.double()
        X = X.double()
        y = y.double() if y.is_floating_point() else y
    trainer.model.train()
    out = trainer.model(X)
    loss = trainer.criterion(out, y)
    loss.backward()
    grads = {name: p.grad.detach().cpu() for name, p in trainer.model.named_parameters()}
    return {"out": out.detach().cpu(), "loss": loss.item(), "grads": grads}


def train_run(config, tensors, device: str) -> dict:
    """Train the config's epochs; steps/s over the epochs after the first (which pays for warm-up)."""
    trainer = make_trainer(config, tensors, device)
    times, steps = [], []
    for _ in range(config.train.epochs):
        sync(device)
        before_steps, started = trainer.steps, time.perf_counter()
        trainer.run_epoch()
        sync(device)
        times.append(time.perf_counter() - started)
        steps.append(trainer.steps - before_steps)
    timed = slice(1, None) if len(times) > 1 else slice(None)
    rate = sum(steps[timed]) / sum(times[timed])
    state = {k: v.detach().cpu() for k, v in trainer.model.state_dict().items()}
    return {"history": trainer.history, "state": state, "steps_per_s": rate, "seconds": sum(times),
            "steps": trainer.steps, "device": str(trainer.device)}


def max_abs(a, b) -> float:
    return float((a - b).abs().max()) if a.numel() else 0.0


def compare_first(cpu: dict, gpu: dict, ref: dict) -> dict:
    import torch

    out_diff = max_abs(cpu["out"], gpu["out"])
    grad_diff = max(max_abs(cpu["grads"][k], gpu["grads"][k]) for k in cpu["grads"])
    close = torch.allclose(cpu["out"], gpu["out"], rtol=FIRST_STEP_RTOL, atol=FIRST_STEP_ATOL) and all(
        torch.allclose(cpu["grads"][k], gpu["grads"][k], rtol=FIRST_STEP_RTOL,
                       atol=FIRST_STEP_ATOL * max(1.0, float(cpu["grads"][k].abs().max())))
        for k in cpu["grads"])
    cpu_err = max(max_abs(ref["grads"][k], cpu["grads"][k]) for k in cpu["grads"])
    gpu_err = max(max_abs(ref["grads"][k], gpu["grads"][k]) for k in gpu["grads"])
    return {"out_max_abs_diff": out_diff, "grad_max_abs_diff": grad_diff, "cpu_grad_err": cpu_err,
            "gpu_grad_err": gpu_err, "loss_diff": abs(cpu["loss"] - gpu["loss"]), "agree": bool(close)}


def rel_norm_diff(a: dict, b: dict) -> float:
    """||a - b|| / ||a|| over every tensor of two state dicts (cpu tensors)."""
    num = math.sqrt(sum(float((a[k] - b[k]).double().pow(2).sum()) for k in a))
    den = math.sqrt(sum(float(a[k].double().pow(2).sum()) for k in a)) or 1.0
    return num / den


def early_steps(config, tensors, device: str, steps: int, float64: bool = False) -> dict:
    """The engine's first ``steps`` optimizer steps (its epoch loop, batch by batch): losses and weights.

    ``float64`` gives the reference: the same steps in double precision on the cpu.
    """
    from playground.builder.training import epoch_permutation

    trainer = make_trainer(config, tensors, device)
    if float64:
        trainer.model.double()  # before the first step: the optimizer has no state yet
        trainer.X_train = trainer.X_train.double()
        if trainer.y_train.is_floating_point():
            trainer.y_train = trainer.y_train.double()
    perm = epoch_permutation(trainer.n_train, trainer.g, trainer.shuffle)
    if trainer.device.type != "cpu":
        perm = perm.to(trainer.device)
    trainer.model.train()
    losses, states = [], []
    for i in range(0, min(trainer.n_train, steps * trainer.batch_size), trainer.batch_size):
        idx = perm[i : i + trainer.batch_size]
        trainer.optimizer.zero_grad()
        loss = trainer.criterion(trainer.model(trainer.X_train[idx]), trainer.y_train[idx])
        loss.backward()
        trainer.optimizer.step()
        losses.append(loss.item())
        states.append({k: v.detach().cpu().double().clone() for k, v in trainer.model.state_dict().items()})
    return {"losses": losses, "states": states}


def compare_early(cpu: dict, gpu: dict, ref: dict) -> dict:
    """cuda against cpu, and each against the float64 reference: is cuda as close to it as cpu float32 is?"""
    loss_rel = max(abs(a - b) / max(abs(a), 1e-12) for a, b in zip(cpu["losses"], gpu["losses"], strict=True))
    drift = [rel_norm_diff(a, b) for a, b in zip(cpu["states"], gpu["states"], strict=True)]
    cpu_err = [rel_norm_diff(r, a) for r, a in zip(ref["states"], cpu["states"], strict=True)]
    gpu_err = [rel_norm_diff(r, b) for r, b in zip(ref["states"], gpu["states"], strict=True)]
    # cuda's error from the float64 run, over cpu float32's (a floor of 1e-6: both tiny counts as equal).
    worst = max(max(g, 1e-6) / max(c, 1e-6) for g, c in zip(gpu_err, cpu_err, strict=True))
    return {"steps": len(drift), "loss_max_rel_diff": loss_rel, "drift": drift, "cpu_err": cpu_err,
            "gpu_err": gpu_err, "error_ratio": worst,
            "weight_max_abs_diff": max(max_abs(cpu["states"][-1][k], gpu["states"][-1][k]) for k in cpu["states"][-1]),
            "agree": loss_rel <= EARLY_LOSS_RTOL or worst <= EARLY_ERROR_RATIO}


def compare_runs(cpu: dict, gpu: dict) -> dict:
    import torch

    loss_diff, loss_rel = 0.0, 0.0
    for a, b in zip(cpu["history"], gpu["history"], strict=True):
        for key in ("train_loss", "val_loss"):
            x, y = a.get(key), b.get(key)
            if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
                continue
            loss_diff = max(loss_diff, abs(x - y))
            loss_rel = max(loss_rel, abs(x - y) / max(abs(x), 1e-12))
    acc = [(a.get("val_acc"), b.get("val_acc")) for a, b in zip(cpu["history"], gpu["history"], strict=True)]
    return {"loss_max_abs_diff": loss_diff, "loss_max_rel_diff": loss_rel,
            "weight_max_abs_diff": max(max_abs(cpu["state"][k], gpu["state"][k]) for k in cpu["state"]),
            "weight_rel_norm_diff": rel_norm_diff(cpu["state"], gpu["state"]),
            "val_acc_max_diff": max((abs(x - y) for x, y in acc if x is not None and y is not None), default=0.0),
            "bitwise_equal": all(torch.equal(cpu["state"][k], gpu["state"][k]) for k in cpu["state"])}


def check_case(case: Case, cuda: str, log) -> dict:
    from playground.builder.datasets import prepare_data

    config = config_for(case)
    started = time.perf_counter()
    tensors = prepare_data(config.data).arrays()
    log(f"\n== {case.name}: {case.epochs} epochs, Adam lr {case.lr:g} (data ready in {time.perf_counter() - started:.1f} s)")
    first = compare_first(first_step(config, tensors, "cpu"), first_step(config, tensors, cuda),
                          first_step(config, tensors, "cpu", float64=True))
    log(f"   first forward+backward from the same weights: max |out diff| {first['out_max_abs_diff']:.3g}, "
        f"max |grad diff| {first['grad_max_abs_diff']:.3g}, |loss diff| {first['loss_diff']:.3g} -> "
        f"{'agree' if first['agree'] else 'DISAGREE'} (rtol {FIRST_STEP_RTOL:g}, atol {FIRST_STEP_ATOL:g}); "
        f"max |grad error| against float64: cpu {first['cpu_grad_err']:.3g}, cuda {first['gpu_grad_err']:.3g}")
    early = compare_early(early_steps(config, tensors, "cpu", EARLY_STEPS), early_steps(config, tensors, cuda, EARLY_STEPS),
                          early_steps(config, tensors, "cpu", EARLY_STEPS, float64=True))

    def series(values):
        return ", ".join(f"{d:.1g}" for d in values)

    log(f"   first {early['steps']} steps: max relative batch-loss diff {early['loss_max_rel_diff']:.3g}; "
        f"cuda's distance from a float64 run is at most {early['error_ratio']:.2f}x cpu float32's -> "
        f"{'close' if early['agree'] else 'drifting apart'} (loss rtol {EARLY_LOSS_RTOL:g}, or error ratio <= {EARLY_ERROR_RATIO:g})")
    log(f"     relative weight distance step by step: cuda vs cpu {series(early['drift'])}")
    log(f"                                          cpu32 vs float64 {series(early['cpu_err'])}")
    log(f"                                           cuda vs float64 {series(early['gpu_err'])}")
    runs = {}
    for device in (cuda, "cpu"):
        runs[device] = train_run(replace(config, train=replace(config.train, device=device)), tensors, device)
        r = runs[device]
        log(f"   {device:>6}: {r['steps']} steps in {r['seconds']:.2f} s, {r['steps_per_s']:.1f} steps/s "
            f"(epochs after the first, validation included), final train loss {r['history'][-1]['train_loss']:.6f}")
    again = train_run(replace(config, train=replace(config.train, device=cuda)), tensors, cuda)
    repeat = compare_runs(runs[cuda], again)
    log(f"   cuda run twice: {'bitwise identical' if repeat['bitwise_equal'] else 'DIFFERENT (max |weight diff| ' + format(repeat['weight_max_abs_diff'], '.3g') + ')'}")
    whole = compare_runs(runs["cpu"], runs[cuda])
    log(f"   whole run, cuda vs cpu (not judged; rounding differences compound): max |loss diff| "
        f"{whole['loss_max_abs_diff']:.3g} (relative {whole['loss_max_rel_diff']:.3g}), max |weight diff| "
        f"{whole['weight_max_abs_diff']:.3g}, relative weight-norm diff {whole['weight_rel_norm_diff']:.3g}, "
        f"max val-accuracy diff {whole['val_acc_max_diff']:.3g}")
    speedup = runs[cuda]["steps_per_s"] / runs["cpu"]["steps_per_s"]
    log(f"   speed: cuda {runs[cuda]['steps_per_s']:.1f} steps/s vs cpu {runs['cpu']['steps_per_s']:.1f} steps/s "
        f"= {speedup:.2f}x")
    return {"case": case, "first": first, "early": early, "whole": whole, "repeat": repeat,
            "agree": first["agree"], "cuda_rate": runs[cuda]["steps_per_s"],
            "cpu_rate": runs["cpu"]["steps_per_s"], "speedup": speedup}


def section(card: str, picked: str, threads: int, results: list[dict], quick: bool,
            sweeps: list[dict] | None = None) -> Section:
    m = machine()
    s = Section("GPU check")
    s.add(f"Measured {now_utc()} by `python bench/gpu_check.py{' --quick' if quick else ''}` on **{card}** "
          f"(host: {m['cpu']}, {m['cores']} cores, {m['ram']}; torch {m['torch']}; cpu runs use {threads} threads). "
          "TF32 off. Same seed, same initial weights (built on the CPU), same batches (CPU generator), Adam, "
          "the app's engine (`playground.builder.training.Trainer`). Steps/s: epochs after the first, validation included.", "",
          f"The app picks the GPU by itself: `default_device()` = `{picked}` "
          f"-> **{'yes' if picked.startswith('cuda') else 'no'}**.", "",
          "| model | cuda steps/s | cpu steps/s (baseline) | ratio | fwd+bwd max abs diff cuda vs cpu (out / grad) | "
          "grad max abs error vs float64 (cpu / cuda) | agree | "
          f"first {EARLY_STEPS} steps: max rel batch-loss diff; cuda's distance from float64 over cpu's | "
          "whole run: max abs loss diff (rel) | whole run: weight max abs diff (rel norm) | cuda twice |",
          "|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        f, e, w = r["first"], r["early"], r["whole"]
        s.add(f"| {r['case'].name}, {r['case'].epochs} epochs | {r['cuda_rate']:.1f} | {r['cpu_rate']:.1f} | "
              f"{r['speedup']:.2f}x | {f['out_max_abs_diff']:.2g} / {f['grad_max_abs_diff']:.2g} | "
              f"{f['cpu_grad_err']:.2g} / {f['gpu_grad_err']:.2g} | {'yes' if r['agree'] else '**no**'} | "
              f"{e['loss_max_rel_diff']:.2g}; {e['error_ratio']:.2f}x | "
              f"{w['loss_max_abs_diff']:.2g} ({w['loss_max_rel_diff']:.2g}) | "
              f"{w['weight_max_abs_diff']:.2g} ({w['weight_rel_norm_diff']:.2g}) | "
              f"{'identical' if r['repeat']['bitwise_equal'] else 'differ'} |")
    s.add("", f"\"Agree\": one forward and backward from the same weights on the same batch, cuda against cpu, within "
          f"rtol {FIRST_STEP_RTOL:g} / atol {FIRST_STEP_ATOL:g} (grads: atol scaled by the largest grad). Training "
          "itself is reported, not judged: rounding differences compound step after step (Adam's early updates are "
          "close to lr * sign(grad), so a near-zero gradient rounded differently moves its weight by up to 2 * lr), "
          "and the runs end apart. Relative weight distance over the first steps (cuda vs cpu; cpu float32 vs "
          "a float64 run; cuda vs the float64 run):")
    for r in results:
        e = r["early"]
        s.add(f"- {r['case'].name}: " + "; ".join(", ".join(f"{d:.1g}" for d in e[k]) for k in ("drift", "cpu_err", "gpu_err")))
    if sweeps:
        s.add("", f"**Sweeps** (`playground.builder.sweep.SweepTrainer`, Adam, learning rates on a log range x seeds; "
              f"{SWEEP_SLICE_S:g} s of training timed on each device after a warm-up; cpu on {threads} threads). "
              "The rule is `playground.device.choose_device`.", "",
              "| sweep | members | cuda member-steps/s | cpu member-steps/s (baseline) | ratio | the rule picks | "
              "agrees with the measurement |", "|---|---|---|---|---|---|---|")
        for r in sweeps:
            s.add(f"| {r['case'].name} | {r['members']} | {r['gpu']['member_steps_per_s']:.0f} | "
                  f"{r['cpu']['member_steps_per_s']:.0f} | {r['ratio']:.2f}x | {r['picked']} | "
                  f"{'yes' if r['agrees'] else '**no**'} |")
    return s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args(argv)

    import torch

    from playground.device import default_device

    print(f"torch {torch.__version__} (CUDA build: {torch.version.cuda or 'no'}), {torch.get_num_threads()} cpu threads")
    if not torch.cuda.is_available():
        print("No CUDA device here (torch.cuda.is_available() is False): nothing to check. "
              f"default_device() = {default_device()!r}.")
        return 0
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    cuda = "cuda:0"
    card = torch.cuda.get_device_name(0)
    picked = default_device()
    print(f"GPU: {card} ({torch.cuda.device_count()} device(s)); the app's default_device() = {picked!r} -> "
          f"{'picks the GPU by itself' if picked.startswith('cuda') else 'does NOT pick the GPU'}")
    started = time.perf_counter()
    results = [check_case(case, cuda, print) for case in (QUICK_CASES if args.quick else FULL_CASES)]
    sweeps = [r for case in (QUICK_SWEEP_CASES if args.quick else FULL_SWEEP_CASES)
              for r in check_sweeps(case, cuda, print, 1.0 if args.quick else SWEEP_SLICE_S)]
    ok = all(r["agree"] for r in results)
    print(f"\n{'cuda agrees with cpu' if ok else 'cuda DISAGREES with cpu'} on every model's forward and backward "
          "within float32 tolerance (the training runs drift apart as reported above); "
          f"{time.perf_counter() - started:.0f} s in all.")
    if not args.no_write:
        write_sections([section(card, picked, torch.get_num_threads(), results, args.quick, sweeps)])
        print("Wrote the 'GPU check' section of bench/RESULTS.md.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
