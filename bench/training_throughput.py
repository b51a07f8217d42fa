"""Training throughput of the Model Builder's engine, as the app drives it, against loops written by hand.

    python -m bench.training_throughput

Model 2 -> 8 -> 8 -> 1 (Tanh), MSELoss, Adam, 1,000 training points (the plane dataset), one torch thread.
The engine and the tuned hand loop both use ``Adam(..., fused=True)`` (the engine's choice: one update for
all parameters at once); the seed-style loop uses ``Adam`` as the course writes it.

1. Engine vs a tuned hand-written loop (precomputed tensors, ``torch.randperm`` and slicing, the same model,
   optimizer and per-epoch work: the epoch's loss from ``loss.item()`` and a validation pass under
   ``torch.no_grad()``), at batch sizes 10, 32 and full batch. The engine runs the worker's own job loop
   exactly as a Play press runs it (control checks, batched progress sent through a pipe and drained by a
   thread, heatmaps), in this process, so it and the hand loop share a process and a core; the same job in a
   worker process of the app's pool is reported beside. Rounds alternate, and which of the two loops goes
   first alternates from round to round; the ratio is the median of the per-round ratios.
   Both are timed in CPU seconds of their process (``time.process_time``), so the other work on this
   shared machine does not enter the ratio; wall-clock figures are reported beside. Target >= 0.95x.
   A bare hand loop (no loss read-back, no validation) is reported too.
1b. The engine with its per-layer statistics on (``builder/layer_stats.py``, as every run records them) vs off,
   the worker's job loop in this process, alternated, at batch 10 and full batch, in CPU seconds. Target >= 0.9x.
2. Engine vs a seed-style loop (a ``Dataset`` whose ``__getitem__`` returns one sample, fed to a
   ``DataLoader``) at full batch, in CPU seconds. Target >= 10x.
3. Two trainings at once vs one (aggregate optimizer steps per second, wall clock), alternated. Target >= 1.5x
   on 2 cores. And a rerun of another session's Model Builder page (AppTest) while the two train, against the
   same rerun with nothing training. Target <= 2x.
"""

from __future__ import annotations

import statistics
import threading
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from bench.common import ROOT, Row, Section, load_note, section_stamp, table, write_sections
from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.datasets import prepare_data
from playground.builder.model import build_model
from playground.execution.pool import WorkerPool

TITLE = "Training throughput"
N_TRAIN = 1000
ROUNDS = 6  # rounds alternate which loop goes first; the ratio is the median of the per-round ratios
STATS_ROUNDS = 4  # rounds of the statistics on/off comparison (which goes first alternates)
ROUND_S = 0.5  # target seconds of training per measured round (short rounds, many: the machine is shared)


def make_config(batch: int, epochs: int = 10) -> RunConfig:
    return RunConfig(
        data=DataConfig(dataset="plane", n_samples=1250, train_fraction=0.8, val_fraction=0.1, seed=0),
        model=ModelSpec(in_features=2, hidden=(8, 8), activations=("tanh", "tanh"), out_features=1, task="regression"),
        train=TrainConfig(optimizer="adam", lr=0.01, batch_size=batch, epochs=epochs, seed=0),
    )


def hand_loop(tensors: dict, batch: int, epochs: int, validate: bool = True, read_loss: bool = True,
              cpu: bool = False) -> tuple[int, float]:
    """A tuned loop: tensors made once, randperm and slicing; returns (steps, seconds: wall, or CPU if ``cpu``).
    The other clock's reading is kept in ``hand_loop.other`` (one run gives both)."""
    torch.manual_seed(0)
    model = build_model(make_config(batch).model)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, fused=True)  # tuned: the engine's own optimizer
    criterion = nn.MSELoss()
    X, y, Xv, yv = tensors["X_train"], tensors["y_train"], tensors["X_val"], tensors["y_val"]
    n = len(X)
    g = torch.Generator().manual_seed(0)
    steps = 0
    wall_started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=g)
        total = 0.0
        for i in range(0, n, batch):
            idx = perm[i : i + batch]
            optimizer.zero_grad()
            loss = criterion(model(X[idx]), y[idx])
            loss.backward()
            optimizer.step()
            if read_loss:
                total += loss.item() * len(idx)
            steps += 1
        if validate:
            model.eval()
            with torch.no_grad():
                criterion(model(Xv), yv).item()
    wall, cpu_seconds = time.perf_counter() - wall_started, time.process_time() - cpu_started
    hand_loop.other = wall if cpu else cpu_seconds
    return steps, (cpu_seconds if cpu else wall)


class MyDataset(Dataset):
    """The course's MyDataset: the table read once in __init__ (as pandas' ``.values`` gives it), one sample
    made into tensors in __getitem__, batches collated by the DataLoader."""

    def __init__(self, table) -> None:
        self.data = table

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        row = self.data[index]
        return torch.tensor(row[:-1], dtype=torch.float32), torch.tensor(row[-1:], dtype=torch.float32)


class OneTensorSample(Dataset):
    """A kinder seed style: the data already tensors, one sample indexed per __getitem__."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor) -> None:
        self.X, self.y = X, y

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, index: int):
        return self.X[index], self.y[index]


def seed_style_loop(tensors: dict, batch: int, epochs: int, course: bool = True) -> tuple[int, float]:
    """Returns (steps, CPU seconds)."""
    torch.manual_seed(0)
    model = build_model(make_config(batch).model)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)  # as the course writes it
    criterion = nn.MSELoss()
    if course:
        table = torch.cat([tensors["X_train"], tensors["y_train"]], dim=1).numpy().astype("float64")
        dataset = MyDataset(table)
    else:
        dataset = OneTensorSample(tensors["X_train"], tensors["y_train"])
    loader = DataLoader(dataset, batch_size=batch, shuffle=True)
    steps = 0
    started = time.process_time()
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            steps += 1
    return steps, time.process_time() - started


def engine_round(pool: WorkerPool, tensors: dict, data, batch: int, epochs: int, owner: str) -> tuple[int, float, float]:
    """One run through the app's pool; returns (steps, the worker's CPU seconds training, wall seconds submit->done)."""
    config = make_config(batch, epochs)
    started = time.perf_counter()
    handle = pool.submit(config, tensors, owner=owner, plane_features=config.data.features,
                         standardization=data.standardization)
    if not handle.wait(120):
        raise RuntimeError("the engine's run did not finish")
    wall = time.perf_counter() - started
    view = handle.snapshot()
    if view.status != "finished":
        raise RuntimeError(f"the engine's run ended {view.status}: {view.message}")
    return view.stats["steps"], view.stats["train_cpu_seconds"], wall


class InProcessRunner:
    """The worker's own job loop (``_JobRunner``: control checks, batched progress, heatmaps) run in this
    process, with a thread draining its progress as the server does: the same code as a worker runs,
    timed on the same process (and core) as the hand loop, so the two compare fairly."""

    def __init__(self) -> None:
        import multiprocessing

        from playground.execution.pool import _numpy
        from playground.execution.worker import _JobRunner

        self._runner_class, self._numpy = _JobRunner, _numpy
        self.control_recv, self.control_send = multiprocessing.Pipe(duplex=False)
        self.progress_recv, self.progress_send = multiprocessing.Pipe(duplex=False)
        self.done: list[dict] = []
        self.ids = iter(range(1, 10**9))
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                message = self.progress_recv.recv()
            except (EOFError, OSError):
                return
            if message[0] == "done":
                self.done.append(message[5])

    def run(self, tensors: dict, data, batch: int, epochs: int, layer_stats: bool = True) -> tuple[int, float]:
        config = make_config(batch, epochs)
        payload = {"config": config.to_dict(), "tensors": {k: self._numpy(v) for k, v in tensors.items()},
                   "plane_features": config.data.features, "standardization": data.standardization,
                   "layer_stats": layer_stats}
        count = len(self.done)
        self._runner_class(next(self.ids), payload, self.control_recv, self.progress_send).run()
        while len(self.done) == count:
            time.sleep(0.001)
        stats = self.done[-1]
        return stats["steps"], stats["train_cpu_seconds"]


def epochs_for(batch: int, steps_per_s: float) -> int:
    steps_per_epoch = -(-N_TRAIN // batch)
    return max(2, min(2000, int(ROUND_S * steps_per_s / steps_per_epoch)))


def concurrent(pool: WorkerPool, tensors: dict, data, count: int, epochs: int) -> float:
    """Aggregate steps/s of ``count`` runs started together (wall clock from the first start to the last end)."""
    config = make_config(10, epochs)
    handles = [pool.submit(config, tensors, owner=f"concurrent-{count}-{i}-{time.monotonic()}",
                           plane_features=config.data.features, standardization=data.standardization)
               for i in range(count)]
    for handle in handles:
        handle.wait(300)
    jobs = [h.job for h in handles]
    start = min(j.started for j in jobs)
    end = max(j.ended for j in jobs)
    return sum(j.stats["steps"] for j in jobs) / (end - start)


def _plain_job(epochs: int) -> tuple[int, float, float]:
    torch.set_num_threads(1)
    tensors = prepare_data(make_config(10).data).arrays()
    started = time.monotonic()
    steps, _ = hand_loop(tensors, 10, epochs)
    return steps, started, time.monotonic()


def plain_processes():
    """Two plain spawned processes (no app code), started early so their imports overlap other work."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    executor = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"), initializer=_warm_plain)
    warm = [executor.submit(_plain_job, 1) for _ in range(2)]
    return executor, warm


def _warm_plain() -> None:
    """Each plain process imports and runs the loop once before it is timed (as the app's workers warm up)."""
    _plain_job(1)


def machine_parallelism(executor, warm, tensors_epochs: int) -> tuple[float, float]:
    """Aggregate steps/s of one and of two plain spawned processes running the hand loop (no app code)."""
    with executor:
        for future in warm:
            future.result()
        rates = {1: [], 2: []}
        for _ in range(1):
            for count in (1, 2):
                results = list(executor.map(_plain_job, [tensors_epochs] * count))
                start = min(r[1] for r in results)
                end = max(r[2] for r in results)
                rates[count].append(sum(r[0] for r in results) / (end - start))
    return statistics.median(rates[1]), statistics.median(rates[2])


def rerun_seconds(at, repeats: int = 3) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    torch.set_num_threads(1)
    load_before = load_note()
    data = prepare_data(make_config(10).data)
    tensors = data.arrays()
    assert len(tensors["X_train"]) == N_TRAIN
    pool = WorkerPool(max_workers=2)
    pool.prewarm(2)
    executor, warm = plain_processes()
    in_process = InProcessRunner()
    deadline = time.monotonic() + 90
    while sum(w.ready.is_set() for w in pool.workers) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)

    rows: list[Row] = []
    lines: list[str] = []
    # ---- 1. engine vs tuned hand loop, interleaved
    for batch in (10, 32, N_TRAIN):
        steps, seconds = hand_loop(tensors, batch, 2)  # calibrate the round length
        epochs = epochs_for(batch, steps / seconds)
        ratios, engine_rates, hand_rates, bare_rates, walls, hand_walls = [], [], [], [], [], []
        worker_rates, worker_ratios = [], []
        for r in range(ROUNDS):
            if r % 2:  # odd rounds: the hand loop first (what runs first meets a different cache and load)
                h_steps, h_seconds = hand_loop(tensors, batch, epochs, cpu=True)
                hand_walls.append(h_steps / hand_loop.other)
            e_steps, e_seconds = in_process.run(tensors, data, batch, epochs)
            w_steps, w_cpu, wall = engine_round(pool, tensors, data, batch, epochs, owner=f"bench-{batch}-{r}")
            worker_rates.append(w_steps / w_cpu)
            if not r % 2:
                h_steps, h_seconds = hand_loop(tensors, batch, epochs, cpu=True)
                hand_walls.append(h_steps / hand_loop.other)
            b_steps, b_seconds = hand_loop(tensors, batch, epochs, validate=False, read_loss=False, cpu=True)
            engine_rates.append(e_steps / e_seconds)
            hand_rates.append(h_steps / h_seconds)
            bare_rates.append(b_steps / b_seconds)
            walls.append(w_steps / wall)
            worker_ratios.append((w_steps / w_cpu) / (h_steps / h_seconds))
            ratios.append((e_steps / e_seconds) / (h_steps / h_seconds))
        label = "full batch (1000)" if batch == N_TRAIN else f"batch {batch}"
        ratio = statistics.median(ratios)
        engine_rate = statistics.median(engine_rates)
        rows.append(Row(f"engine (the worker's job loop), {label}, steps per CPU-second ({epochs} epochs x {ROUNDS} rounds; per-round ratios "
                        f"{', '.join(f'{x:.2f}' for x in ratios)}; the ratio is their median)", engine_rate,
                        "steps/s", "tuned hand loop", engine_rate / ratio, ">= 0.95x", ratio >= 0.95,
                        note=f"hand loop's own median {statistics.median(hand_rates):.0f}"))
        worker_ratio = statistics.median(worker_ratios)
        rows.append(Row(f"engine in a worker process of the pool, {label}, steps per CPU-second (per-round ratios "
                        f"{', '.join(f'{x:.2f}' for x in worker_ratios)}; their median)",
                        statistics.median(worker_rates), "steps/s", "tuned hand loop (this process)",
                        statistics.median(worker_rates) / worker_ratio, "reported", None,
                        note="two processes: their cores and caches differ"))
        rows.append(Row(f"engine, {label}, wall clock from submit to done (start-up and transfer included)",
                        statistics.median(walls), "steps/s", "tuned hand loop, wall clock",
                        statistics.median(hand_walls), "reported", None))
        rows.append(Row(f"engine, {label}, vs a bare loop (no loss read-back, no validation), CPU",
                        engine_rate, "steps/s", "bare hand loop", statistics.median(bare_rates), "reported", None))
        print(f"batch {batch}: engine {statistics.median(engine_rates):.0f} steps/s, hand {statistics.median(hand_rates):.0f}, "
              f"ratio {ratio:.3f} (rounds {[round(x, 3) for x in ratios]})", flush=True)
        if batch == N_TRAIN:
            full_engine = statistics.median(engine_rates)
    # ---- 1b. the per-layer statistics on vs off (the worker's job loop, in this process), alternated
    for batch in (10, N_TRAIN):
        steps, seconds = in_process.run(tensors, data, batch, 2, layer_stats=False)
        epochs = epochs_for(batch, steps / seconds)
        on_rates, off_rates, stat_ratios = [], [], []
        for r in range(STATS_ROUNDS):
            order = (True, False) if r % 2 else (False, True)
            rates = {}
            for on in order:
                s_steps, s_seconds = in_process.run(tensors, data, batch, epochs, layer_stats=on)
                rates[on] = s_steps / s_seconds
            on_rates.append(rates[True])
            off_rates.append(rates[False])
            stat_ratios.append(rates[True] / rates[False])
        label = "full batch (1000)" if batch == N_TRAIN else f"batch {batch}"
        stats_ratio = statistics.median(stat_ratios)
        rows.append(Row(f"engine with the per-layer statistics on, {label}, steps per CPU-second ({epochs} epochs x "
                        f"{STATS_ROUNDS} rounds; per-round ratios {', '.join(f'{x:.2f}' for x in stat_ratios)}; "
                        "their median)", statistics.median(on_rates), "steps/s", "the same, statistics off",
                        statistics.median(on_rates) / stats_ratio, ">= 0.9x", stats_ratio >= 0.9))
        print(f"layer statistics, batch {batch}: on/off {stats_ratio:.3f} (rounds {[round(x, 3) for x in stat_ratios]})",
              flush=True)
    # ---- 2. engine vs seed-style loop, full batch
    seed_rates, kind_rates = [], []
    for _ in range(3):
        seed_steps, seed_seconds = seed_style_loop(tensors, N_TRAIN, 3)
        seed_rates.append(seed_steps / seed_seconds)
        kind_steps, kind_seconds = seed_style_loop(tensors, N_TRAIN, 3, course=False)
        kind_rates.append(kind_steps / kind_seconds)
    seed_rate, kind_rate = statistics.median(seed_rates), statistics.median(kind_rates)
    seed_ratio = full_engine / seed_rate
    rows.append(Row("engine, full batch, vs the seed-style loop (course MyDataset: numpy table, one sample made into "
                    "tensors per __getitem__, DataLoader collates)", full_engine, "steps/s", "seed-style loop",
                    seed_rate, ">= 10x", seed_ratio >= 10))
    rows.append(Row("engine, full batch, vs a kinder seed style (tensors indexed one sample per __getitem__)",
                    full_engine, "steps/s", "one-tensor-sample loop", kind_rate, "reported", None))
    print(f"seed-style: {seed_rate:.1f} steps/s; engine/seed {seed_ratio:.1f}x; kinder {kind_rate:.1f}", flush=True)

    # ---- 3. two trainings at once vs one, and a rerun of another session meanwhile
    calibrate = concurrent(pool, tensors, data, 1, 5)
    epochs = max(3, int(1.0 * calibrate / 100))
    ones, twos = [], []
    for _ in range(2):
        ones.append(concurrent(pool, tensors, data, 1, epochs))
        twos.append(concurrent(pool, tensors, data, 2, epochs))
    one, two = statistics.median(ones), statistics.median(twos)
    rows.append(Row(f"two trainings at once, aggregate steps/s (batch 10, {epochs} epochs each, 2 rounds)", two,
                    "steps/s", "one training alone", one, ">= 1.5x", two / one >= 1.5))
    print(f"one {one:.0f} steps/s, two {two:.0f} steps/s: {two / one:.2f}x", flush=True)
    plain_one, plain_two = machine_parallelism(executor, warm, tensors_epochs=epochs)
    rows.append(Row("the machine itself: two plain processes running the hand loop at once, aggregate steps/s", plain_two,
                    "steps/s", "one plain process", plain_one, "reported", None,
                    note="what two cores give now, whatever the app does"))
    print(f"plain processes: one {plain_one:.0f}, two {plain_two:.0f}: {plain_two / plain_one:.2f}x", flush=True)

    rerun_row = None
    try:
        from streamlit.testing.v1 import AppTest

        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.run()
        at.switch_page("pages/model_builder.py")
        at.run()
        idle_times = rerun_seconds(at, 5)
        config = make_config(10, 2000)
        busy_handles = [pool.submit(config, tensors, owner=f"busy-{i}", plane_features=config.data.features)
                        for i in range(2)]
        while not all(h.snapshot().status == "running" for h in busy_handles):
            time.sleep(0.05)
        busy_times = rerun_seconds(at, 9)
        for h in busy_handles:
            h.stop()
            h.wait(30)
        idle_times += rerun_seconds(at, 5)  # idle before and after, so a drift of the machine's load shows in both
        busy, idle = statistics.median(busy_times), statistics.median(idle_times)
        rerun_row = Row("a rerun of another session's Model Builder page while two train (AppTest, median of 9; "
                        f"{min(busy_times):.3f}..{max(busy_times):.3f} s)", busy, "s",
                        f"the same rerun, nothing training (median of 5 before and 5 after; "
                        f"{min(idle_times):.3f}..{max(idle_times):.3f} s)", idle, "<= 2x", busy / idle <= 2)
        rows.append(rerun_row)
        print(f"rerun idle {idle:.3f} s, while two train {busy:.3f} s: {busy / idle:.2f}x", flush=True)
    except Exception as exc:  # the rerun figure needs Streamlit's AppTest; report why it is missing
        lines.append(f"The rerun figure was not measured: {type(exc).__name__}: {exc}")
    pool.shutdown()

    section = Section(TITLE)
    section.add(section_stamp(), "", __doc__.split("\n\n", 2)[2].strip(), "", table(rows), "")
    section.add(*lines)
    section.add(
        "How to read it: the per-round ratios show the noise. On this shared 2-core machine (other sessions' tests "
        "and browsers running, load average 6 to 14 during development) the engine-vs-hand ratios moved between "
        "about 0.90x and 1.05x from run to run, the seed-style ratio between about 6x and 11x, because CPU time per "
        "operation itself varies with the neighbours' load (shared caches and cores). What the engine adds per "
        "epoch by design: the DataLoader-equal random draws (one int64 and a second ``randperm``, about 40 us, so "
        "that a DataLoader reproduces its batches exactly), the stop and finiteness checks, and a heatmap a few "
        "times a second; per step it adds nothing but a clock read."
    )
    missed = [r for r in rows if r.met is False]
    if missed:
        section.add("", "Missed targets and why:")
        for r in missed:
            section.add(f"- {r.what}: {r.ratio:.2f}x. " + explain(r))
    section.add("", f"Load at the end: {load_note()} (at the start: {load_before}).")
    write_sections([section])
    print(table(rows))


def explain(row: Row) -> str:
    if "hand loop" in row.baseline_what:
        return ("The engine does per step what the hand loop does; its extra work is the per-epoch snapshot of the "
                "last finite weights, the finiteness and stop checks, the training-accuracy pass (classification only) "
                "and the progress messages and heatmaps a few times a second. At full batch an epoch is one step, so "
                "these per-epoch costs weigh most there; on a loaded shared machine the rounds also vary.")
    if "statistics on" in row.what:
        return ("Per step the statistics add one fused gradient-norm call; per recorded epoch, the weights' "
                "histograms and quantiles and a forward pass over up to limits.LAYER_STATS_ROWS training rows for "
                "the dead-unit share. At full batch an epoch is one step, so the per-epoch part weighs most there.")
    if "two trainings" in row.what:
        return ("Each worker uses one torch thread, so two should use both cores. Compare the row 'the machine "
                "itself': two plain processes running the same loop, with no app code, get no more than about that "
                "from this shared machine while other work (see the load average) holds its cores. The app's workers "
                "also run at nice 5, below the web server (so pages stay responsive), which gives them a smaller "
                "share than the plain processes when other nice-0 work competes; on a server running only the app "
                "they would have the two cores to themselves.")
    if "seed-style" in row.what:
        return ("A per-sample Dataset costs a few microseconds per sample (indexing, two small tensors, collation): "
                "at 1,000 samples a step that is a few milliseconds, while the model's own full-batch step (forward, "
                "backward, Adam) on this tiny network costs about a millisecond. So the engine's lead is the per-sample "
                "overhead over the step, here a few times, not 10x; it grows with the data and shrinks with the model.")
    if "rerun" in row.what:
        return ("The rerun competes for two cores with two single-threaded workers and with the machine's other load. "
                "The workers run at nice 5 so the server's threads win the CPU when they need it; the other load "
                "(nice 0) is not ours to lower.")
    return "See the figures."


if __name__ == "__main__":
    main()
