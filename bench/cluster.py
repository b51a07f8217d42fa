"""Cluster: training jobs on Ray against the local pool, and a class server's capacity with one replica and two.

    python -m bench cluster

All on this machine and on loopback, started with the recipe's own code (``deploy/stack.py``):

1. Executors: the same small runs submitted in turns to the local worker pool and to the Ray executor (a Ray
   head with 4 CPUs; both warmed up first): a job's start latency (submitted to its first "started"
   message) and its engine's steps per second (the worker's own count over its own training time).
   Target: Ray >= 0.9x the local pool's steps/s.
2. Sessions served per minute: visitors (Streamlit's websocket protocol, ``deploy/loadgen.py``; no browser)
   arrive together through nginx, open two pages, go to the Model Builder and train the default model for
   2 epochs, on one replica and then on two (each stack: nginx, the replicas, one Ray head, PostgreSQL
   where installed).
3. Capacity: on each stack, visitors are added a few at a time, each starting a long training and watching
   it (its live view redrawn as the browser would); at each level a new visitor opens the Tensor Lab and
   the Model Builder and a training visitor presses Pause and Play. The largest number of sessions with a
   run (training or waiting for a trainer) at which the 90th percentile of those page answers stays under
   2 s is the capacity.

Every figure depends on this machine's 2 cores, which the server, its workers, Ray and the load generator
share (a class server would have its own): ratios within one run are the point.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from bench.common import Budget, Row, Section, median, section_stamp, spread, table, write_sections

TITLE = "Cluster: Ray, replicas and capacity"
RATIO_TARGET = 0.9
ANSWER_TARGET_S = 2.0
SESSIONS_VISITORS = 6
LEVELS = (1, 2, 3, 4, 6, 8, 12, 16, 20)
WINDOW_S = 15.0
QUIET_S = 6.0  # at each level, the sessions alone first: the replicas' CPU for watching sessions
RAY_JOB_CPUS = 4  # trainings at once on the Ray head (as many as the local pool runs on one server)


def log(line: str) -> None:
    print(line, flush=True)


# ---------------------------------------------------------------------------------------------- 1. executors

def small_config(epochs: int, seed: int = 0):
    from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig

    return RunConfig(data=DataConfig(dataset="circle", n_samples=2000, seed=seed),
                     model=ModelSpec(in_features=2, hidden=(8, 8), activations=("tanh", "tanh"), out_features=2),
                     train=TrainConfig(epochs=epochs, batch_size=10, seed=seed))


def one_job(executor, epochs: int, seed: int) -> tuple[float, float, int, float]:
    """(start latency s, steps/s, steps, steps per CPU second) of one run on ``executor``."""
    from playground.builder.datasets import prepare_data

    config = small_config(epochs, seed)
    data = prepare_data(config.data)
    handle = executor.submit(config, data.arrays(), owner=f"bench-{seed}-{time.monotonic_ns()}",
                             plane_features=config.data.features, standardization=data.standardization)
    if not handle.wait(300):
        raise RuntimeError("a run did not finish in 300 s")
    view = handle.snapshot()
    if view.status != "finished":
        raise RuntimeError(f"a run ended {view.status}: {view.message}")
    job, stats = handle.job, view.stats
    return (job.started - job.created, stats["steps"] / stats["train_seconds"], stats["steps"],
            stats["steps"] / max(stats["train_cpu_seconds"], 1e-9))


def measure_executors(head, budget: Budget) -> dict:
    """Local pool and Ray, warmed up, then runs in turns (the order alternating)."""
    os.environ.update(head.client_env)  # before Ray is first imported: loopback and the cluster's token
    import ray

    from playground.execution.pool import WorkerPool
    from playground.execution.ray_executor import RayExecutor

    ray.init(address=head.address, namespace="playground", log_to_driver=False, configure_logging=False)
    local, remote = WorkerPool(max_workers=1), RayExecutor(head.address, max_workers=1, keep_idle=1)
    result: dict = {"local": [], "ray": [], "cold_ray": None}
    try:
        cold = time.monotonic()
        remote.prewarm(1)  # joins, then starts one actor
        local.prewarm(1)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(w.ready.is_set() for e in (local, remote) for w in e.workers):
            time.sleep(0.02)
        result["cold_ray"] = time.monotonic() - cold  # an actor from nothing: a process importing torch
        one_job(local, 1, 99)  # warm both paths once
        one_job(remote, 1, 99)
        rounds = 0
        while rounds < 8 and not (rounds >= 4 and budget.used(0.3)):
            pair = (("local", local), ("ray", remote)) if rounds % 2 == 0 else (("ray", remote), ("local", local))
            for name, executor in pair:
                result[name].append(one_job(executor, 40, rounds))
            rounds += 1
            log(f"  executors round {rounds}: local {result['local'][-1][1]:.0f} steps/s, ray {result['ray'][-1][1]:.0f} steps/s")
    finally:
        local.shutdown()
        remote.shutdown()
        ray.shutdown()
    return result


# ---------------------------------------------------------------------------------------------- 2. sessions

def sessions_per_minute(url: str, visitors: int) -> tuple[float, object, float]:
    from deploy.loadgen import run_visitors

    tally, wall = asyncio.run(run_visitors(url, visitors, 2, stagger_s=0.2, train_timeout=300))
    done = sum(1 for _, status, _ in tally.trainings if status == "finished")
    if tally.errors or done < visitors:
        raise RuntimeError(f"{visitors - done} visitors did not finish: {tally.errors[:3]}")
    return visitors / wall * 60, tally, wall


# ---------------------------------------------------------------------------------------------- 3. capacity

async def _probe(url: str, tally) -> None:
    """A new visitor: opens the Tensor Lab, then the Model Builder; both answers go to the tally."""
    from deploy.loadgen import Visitor

    visitor = Visitor(url, tally, "probe")
    try:
        await visitor.connect()
        await visitor.rerun("")
        await visitor.rerun("model_builder")
    finally:
        await visitor.close()


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) of these processes and their children so far."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                times = proc.cpu_times()
                total += times.user + times.system
        except psutil.Error:
            continue
    return total


async def capacity(url: str, levels: tuple[int, ...], window_s: float, budget: Budget, share: float,
                   running_cap: int, replica_pids: list[int]) -> list[dict]:
    """Add visitors level by level, each training a long run; measure page answers at each level, and the
    cores the replicas used meanwhile (their pages: the training runs in Ray's actors)."""
    from deploy.loadgen import Tally, Visitor

    trainers: list[Visitor] = []
    results: list[dict] = []
    setup = Tally()
    try:
        for level in levels:
            if budget.used(share):
                break
            while len(trainers) < level:
                i = len(trainers)
                # Each from an address of its own, as students at their machines (the runs one address may have
                # waiting are bounded: limits.MAX_QUEUED_JOBS_PER_ADDRESS).
                visitor = Visitor(url, setup, f"trainer-{i}", source=f"127.0.0.{10 + i}")
                await visitor.connect()
                await visitor.rerun("model_builder", query=f"epochs=2000&seed={100 + i}")
                await visitor.rerun(trigger="mb_play", kind="click")
                trainers.append(visitor)
            settle = time.monotonic() + 20  # the new runs start (a new actor takes seconds) or queue
            while time.monotonic() < settle:
                lines = [v.epoch_line[1] if v.epoch_line else "?" for v in trainers]
                if lines.count("training") >= min(level, running_cap) and "starting" not in lines:
                    break
                await asyncio.sleep(0.5)
            tally = Tally()
            for visitor in trainers:
                visitor.tally = tally  # the trainers' live-view answers during the window
            # First the sessions alone (each watching its run): what they cost the replicas.
            quiet, cpu_before = time.monotonic(), cpu_seconds(replica_pids)
            await asyncio.sleep(QUIET_S)
            replica_cores = (cpu_seconds(replica_pids) - cpu_before) / (time.monotonic() - quiet)
            # Then new visitors and clicks: the page answers judged.
            started = time.monotonic()
            turn = 0
            while time.monotonic() - started < window_s:
                await _probe(url, tally)
                clicker = trainers[turn % len(trainers)]
                if "mb_pause" in clicker.buttons:
                    await clicker.rerun(trigger="mb_pause", kind="click")
                    await clicker.rerun(trigger="mb_play", kind="click")
                turn += 1
            errors = setup.errors + tally.errors + [e for v in trainers for e in v.errors]
            lines = [v.epoch_line[1] if v.epoch_line else "?" for v in trainers]
            p90 = tally.percentile(0.9)
            results.append({"level": level, "p90": p90, "median": tally.median(), "answers": len(tally.seconds()),
                            "live_p90": tally.percentile(0.9, ("fragment",)), "errors": errors[:3],
                            "training": lines.count("training"), "waiting": lines.count("waiting"), "lines": lines,
                            "replica_cores": replica_cores})
            log(f"  {level} sessions: page answers p90 {p90:.2f} s (median {tally.median():.2f}, n={len(tally.seconds())}), "
                f"live view p90 {tally.percentile(0.9, ('fragment',)):.2f} s; training {lines.count('training')}, "
                f"waiting {lines.count('waiting')}; errors {len(errors)}; replicas used {replica_cores:.2f} cores")
            if errors or p90 >= ANSWER_TARGET_S:
                break
    finally:
        for visitor in trainers:
            if "mb_stop" in visitor.buttons:
                try:
                    await asyncio.wait_for(visitor.rerun(trigger="mb_stop", kind="click"), 30)
                except Exception:  # noqa: BLE001 - the stack is stopped next anyway
                    pass
            await visitor.close()
    return results


def held(results: list[dict]) -> int:
    """The largest level whose page answers stayed under the target with no error (0 if none)."""
    ok = [r["level"] for r in results if not r["errors"] and r["p90"] < ANSWER_TARGET_S]
    return max(ok, default=0)


def cut_short(results: list[dict]) -> bool:
    """Every level tried held, but the levels stopped before the last (the time budget ended): the capacity is
    at least ``held``, not ``held``."""
    return bool(results) and held(results) == results[-1]["level"] and results[-1]["level"] < LEVELS[-1]


# ---------------------------------------------------------------------------------------------- the section

def run(write: bool = True) -> Section:
    from deploy.stack import ClassServer

    budget = Budget(400)
    s = Section(TITLE)
    s.add(section_stamp(), "")
    rows: list[Row] = []
    notes: list[str] = []
    stacks: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as name:
        folder = Path(name)
        folder.chmod(0o755)  # PostgreSQL's user (as root) must reach its data folder inside
        for replicas in (1, 2):
            log(f"stack with {replicas} replica(s)")
            server = ClassServer(folder / f"r{replicas}", replicas=replicas, ray=True, ray_cpus=RAY_JOB_CPUS)
            started = time.monotonic()
            server.start()
            found: dict = {"start_s": time.monotonic() - started, "store": "PostgreSQL" if server.postgres else "SQLite"}
            try:
                if replicas == 1:
                    try:
                        found["executors"] = measure_executors(server.ray_head, budget)
                    except Exception as exc:  # noqa: BLE001 - reported as not measured
                        found["executors_error"] = f"{type(exc).__name__}: {exc}"[:300]
                        log("  executors not measured: " + found["executors_error"])
                try:
                    found["sessions"] = sessions_per_minute(server.url, SESSIONS_VISITORS)
                    log(f"  {SESSIONS_VISITORS} visitors: {found['sessions'][0]:.1f} sessions/min")
                except Exception as exc:  # noqa: BLE001
                    found["sessions_error"] = f"{type(exc).__name__}: {exc}"[:300]
                    log("  sessions not measured: " + found["sessions_error"])
                share = 0.6 if replicas == 1 else 0.95
                pids = [server.pid(r.name) for r in server.replica_servers]
                found["capacity"] = asyncio.run(capacity(server.url, LEVELS, WINDOW_S, budget, share, RAY_JOB_CPUS, pids))
            finally:
                server.stop()
            stacks[replicas] = found
    one, two = stacks.get(1, {}), stacks.get(2, {})
    ex = one.get("executors")
    if ex and ex["local"] and ex["ray"]:
        local_rate, ray_rate = median([r[1] for r in ex["local"]]), median([r[1] for r in ex["ray"]])
        local_start, ray_start = median([r[0] for r in ex["local"]]), median([r[0] for r in ex["ray"]])
        rows += [
            Row("a job's steps/s on Ray", ray_rate, "steps/s", "the same job on the local pool", local_rate,
                f">= {RATIO_TARGET:g}x", ray_rate / local_rate >= RATIO_TARGET,
                f"{len(ex['ray'])} runs each of {ex['ray'][0][2]} steps, in turns; Ray {spread([r[1] for r in ex['ray']])}, "
                f"local {spread([r[1] for r in ex['local']])}"),
            Row("a job's steps per CPU second on Ray", median([r[3] for r in ex["ray"]]), "steps/s",
                "the same job on the local pool", median([r[3] for r in ex["local"]]), "reported", None,
                "the worker's own CPU time: what the actor costs, whatever else the machine runs"),
            Row("a job's start latency on Ray (warm actor)", ray_start * 1000, "ms", "the local pool (warm worker)",
                local_start * 1000, "reported", None, "submitted to its first 'started' message"),
            Row("a Ray actor's start from nothing (process, torch, warm-up)", ex["cold_ray"], "s", "", None, "reported", None,
                "what a Play would wait without the page's prewarm"),
        ]
    elif one.get("executors_error"):
        rows.append(Row("Ray against the local pool", None, "", note="not measured: " + one["executors_error"]))
    if one.get("sessions") and two.get("sessions"):
        rows.append(Row("sessions served per minute by 2 replicas", two["sessions"][0], "/min", "1 replica",
                        one["sessions"][0], "reported", None,
                        f"{SESSIONS_VISITORS} visitors arriving together, each: 2 pages, then train 2 epochs; page "
                        f"answers p90 {two['sessions'][1].percentile(0.9):.2f} s vs {one['sessions'][1].percentile(0.9):.2f} s"))
    else:
        rows.append(Row("sessions served per minute", None, "", note="not measured: " +
                        (one.get("sessions_error") or two.get("sessions_error") or "the budget ran out")))
    for replicas, found in stacks.items():
        levels = found.get("capacity") or []
        if not levels:
            continue
        best = held(levels)
        at = next((r for r in levels if r["level"] == best), None)
        note = "; ".join(f"{r['level']}: p90 {r['p90']:.2f} s ({r['training']} training)" for r in levels)
        rows.append(Row(f"concurrent training sessions with page answers p90 < {ANSWER_TARGET_S:g} s, {replicas} replica(s)",
                        best, "sessions", "", None, "reported", None,
                        ("at least: every level tried held, the time budget ended first; " if cut_short(levels) else "")
                        + (f"at {best}: {at['training']} training, {at['waiting']} waiting; " if at else "") + note))
    per_session = [r["replica_cores"] / r["level"] for f in stacks.values() for r in f.get("capacity") or []]
    if per_session:
        rows.append(Row("replica CPU per session watching its training (its live view, nothing else)",
                        median(per_session), "cores", "", None, "reported", None,
                        f"median over every level of both stacks, {spread(per_session)}; the training itself runs "
                        "in Ray's actors"))
    if one.get("capacity") and two.get("capacity") and not (cut_short(one["capacity"]) or cut_short(two["capacity"])):
        rows.append(Row("capacity of 2 replicas", held(two["capacity"]), "sessions", "1 replica", held(one["capacity"]) or None,
                        "reported", None, f"same Ray head ({RAY_JOB_CPUS} CPUs for jobs), same machine"))
    elif one.get("capacity") and two.get("capacity"):
        rows.append(Row("capacity of 2 replicas against 1", None, "", note="not compared: a stack's levels stopped at the "
                        "time budget while every level tried still held (see its row)"))
    s.add(table(rows), "")
    s.add(f"Stacks: nginx (cookie-sticky) in front of the replicas, one Ray head with {RAY_JOB_CPUS} logical CPUs for jobs "
          "(and one for each replica's warm actor), run store "
          f"{one.get('store', '?')}; each started in {one.get('start_s', 0):.0f} s / {two.get('start_s', 0):.0f} s. A "
          "session 'with a run' has pressed Play on a 2,000-epoch run of the default model and watches it; beyond "
          "the cluster's CPUs its run waits in the queue, which a page shows as such. The page answers judged are a "
          "new visitor opening the Tensor Lab and the Model Builder, and a training visitor pressing Pause and Play "
          f"({WINDOW_S:g} s at each level, after {QUIET_S:g} s of the sessions alone, when the replicas' CPU is measured).", "")
    s.add(*notes)
    if write:
        write_sections([s])
    return s


def main(argv: list[str] | None = None) -> int:
    print(run().text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
