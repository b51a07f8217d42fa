"""The training worker: it runs one job at a time and streams progress back, in a local worker process
or inside a Ray actor (the same code: only the two connections differ).

It never touches Streamlit. A job's payload names its ``kind``; ``RUNNERS`` maps a kind to the class that
runs it ("run": train one RunConfig with the Trainer; "sweep": every member of a SweepConfig at once with the
SweepTrainer). It sends progress through a connection: epoch rows (batched), a compact view (uint8/float32
heatmap, neuron thumbnails, the drawn weights; a sweep's: every member's boundary) a few times a second, and at
the end the weights as NumPy arrays. Play, pause, step and stop arrive as control
messages. Each job has a budget (payload ``budget``: optimizer steps, seconds holding the worker); past it
the job stops with a sentence and keeps its weights.
"""

from __future__ import annotations

import os
import time
import traceback
from typing import Any

from playground import limits
from playground.builder.config import RunConfig
from playground.errors import PlaygroundError
from playground.execution.jobs import (
    seconds_sentence,
    steps_sentence,
    sweep_seconds_sentence,
    sweep_steps_sentence,
)

FLUSH_EVERY_S = 0.1  # epoch rows are sent in batches at most this often
VIEW_EVERY_S = 0.5  # heatmap, thumbnails and weights at most this often (and never more than ~5% of the time)
PAUSED_CHECK_S = 1.0  # a paused job wakes this often to check its time budget
SLOW_EPOCHS_PER_S = 20.0  # at this speed or slower every epoch's view is sent (the replay has every epoch)
LAYER_STATS_SHARE = 0.05  # faster, the per-layer statistics' epoch summaries take at most this share of the time
SWEEP_LAYER_STATS_SHARE = 0.025  # a sweep's (every member's figures, and its steps' gradient norms in those epochs)



def _warm_up() -> None:
    """One forward, backward and step with each optimizer, so the first real step is not slow."""
    import torch
    from torch import nn

    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 2))
    x, y = torch.randn(8, 2), torch.randint(0, 2, (8,))
    for opt in (torch.optim.Adam(model.parameters(), lr=0.01, fused=True),
                torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, fused=True)):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    nn.functional.mse_loss(model(x)[:, :1], torch.randn(8, 1)).backward()


def _writable(array):
    """The array itself, or a copy where it is read-only (Ray hands arguments over as read-only views)."""
    return array if array.flags.writeable else array.copy()


class _JobRunner:
    """One "run" job inside the worker: the Trainer, the control state, and the throttled progress messages."""

    def __init__(self, job_id: int, payload: dict[str, Any], control_conn, progress_conn) -> None:
        self.job_id = job_id
        self.payload = payload
        self.control_conn = control_conn
        self.progress_conn = progress_conn
        self.mode = "pause" if payload.get("start_paused") else "run"
        budget = payload.get("budget") or {}
        self.budget_steps = int(budget.get("steps", limits.MAX_JOB_STEPS))
        self.budget_seconds = float(budget.get("seconds", limits.MAX_JOB_SECONDS))
        self.held_since = time.monotonic()
        self.stop_sentence = ""  # set when the budget stops the job
        self.speed: float | None = payload.get("speed")  # epochs a second at most; None: as fast as it goes
        self.next_epoch_at = 0.0
        self.rows: list[dict] = []
        self.next_flush = 0.0
        self.next_view = 0.0
        self.next_check = 0.0
        self.trainer = None

    def send(self, kind: str, *args: Any) -> None:
        self.progress_conn.send((kind, self.job_id, *args))

    def flush(self, view: bool = False) -> None:
        if self.rows:
            self.send("epochs", self.rows)
            self.rows = []
        self.next_flush = time.monotonic() + FLUSH_EVERY_S
        if view:
            self.send_view()

    def send_view(self) -> None:
        from playground.builder.decision_boundary import (
            heatmap,
            layer_weights,
            neuron_thumbnails,
            output_thumbnails,
        )

        trainer, p = self.trainer, self.payload
        started = time.monotonic()
        view: dict[str, Any] = {"weights": layer_weights(trainer.model), "epoch": trainer.epoch}
        if p.get("plane_features"):
            view["heatmap"] = heatmap(trainer.model, p["plane_features"], p.get("standardization"), trainer.task)
            view["thumbnails"] = neuron_thumbnails(trainer.model, p["plane_features"], p.get("standardization"))
            view["outputs"] = output_thumbnails(trainer.model, p["plane_features"], p.get("standardization"),
                                                trainer.task)
        self.send("view", view)
        cost = time.monotonic() - started
        self.next_view = time.monotonic() + max(VIEW_EVERY_S, 20 * cost)

    def handle(self, message: tuple) -> bool:
        """Apply one control message; True means stop."""
        kind = message[0]
        if kind == "quit":
            raise SystemExit(0)
        if len(message) < 2 or message[1] != self.job_id:
            return False  # meant for an earlier job
        if kind == "stop":
            return True
        if kind in ("play", "pause", "step"):
            self.mode = {"play": "run", "pause": "pause", "step": "step"}[kind]
        elif kind == "speed" and len(message) > 2:
            self.speed = float(message[2]) if message[2] else None
        elif kind == "lr" and len(message) > 2 and self.trainer is not None:
            try:
                self.trainer.set_lr(float(message[2]))  # from the next epoch on, through param_groups
            except (PlaygroundError, TypeError, ValueError):
                return False
            self.send("lr", list(self.trainer.lr_changes))
        return False

    def must_stop(self) -> bool:
        """Before an epoch: the control messages (every CHECK_EVERY_S while running, at once otherwise), then the
        pace; True means stop now."""
        # imported here, as the runners import training: torch is not imported at this module's top
        from playground.builder.training import CHECK_EVERY_S

        now = time.monotonic()
        if self.mode != "run" or now >= self.next_check:
            if self.control():
                return True
            self.next_check = now + CHECK_EVERY_S
        return self.pace()

    def pace(self) -> bool:
        """At a chosen speed, wait between epochs (answering control messages); True means stop now."""
        if not self.speed:
            return False
        while True:
            wait = self.next_epoch_at - time.monotonic()
            if wait <= 0 or self.mode != "run":
                break
            if self.control_conn.poll(min(wait, 0.05)) and self.control():
                return True
            if not self.speed:  # set to full speed while waiting
                break
        if self.speed:
            self.next_epoch_at = time.monotonic() + 1.0 / self.speed
        return False

    def out_of_time(self) -> bool:
        """True (and the sentence set) once the job has held its worker for its time budget."""
        if time.monotonic() - self.held_since < self.budget_seconds:
            return False
        self.stop_sentence = seconds_sentence(self.budget_seconds)
        return True

    def control(self) -> bool:
        """Called inside epochs: read control messages, block while paused; True means stop now."""
        while self.control_conn.poll():
            if self.handle(self.control_conn.recv()):
                return True
        if self.out_of_time():
            return True
        if self.mode == "pause":
            self.flush(view=True)
            self.send("status", "paused")
            while self.mode == "pause":
                if self.control_conn.poll(PAUSED_CHECK_S):
                    if self.handle(self.control_conn.recv()):
                        return True
                elif self.out_of_time():
                    return True
            self.send("status", "running")
        return False

    def run(self) -> None:
        import torch

        from playground.builder.layer_stats import stride
        from playground.builder.training import Diverged, EarlyStopped, Stopped, Trainer

        p = self.payload
        config = RunConfig.from_dict(p["config"])
        tensors = {k: torch.from_numpy(_writable(v)) for k, v in p["tensors"].items()}
        initial = ({k: torch.from_numpy(_writable(v)) for k, v in p["initial_state"].items()}
                   if p.get("initial_state") else None)
        try:
            # device_override: where the executor placed the job (a Ray actor sees its GPU as cuda:0)
            self.trainer = trainer = Trainer(config, tensors, initial_state=initial, device=p.get("device_override"),
                                             layer_stats_every=stride(config.train.epochs) if p.get("layer_stats", True)
                                             else None)
        except PlaygroundError as exc:
            self.send("error", exc.sentence, exc.detail)
            return
        except Exception as exc:  # a library error building the run (e.g. CUDA out of memory)
            self.send("error", "The run could not start; check the settings and try again.", f"{type(exc).__name__}: {exc}"[:600])
            return
        trainer.epoch = int(p.get("epoch_offset", 0))
        target = trainer.epoch + config.train.epochs
        # The step budget, in whole epochs: the run ends at an epoch boundary, never mid-epoch.
        steps_per_epoch = -(-trainer.n_train // trainer.batch_size)
        budget_epochs = self.budget_steps // steps_per_epoch  # 0 when not even one epoch fits
        capped = target - trainer.epoch > budget_epochs
        if capped:
            target = trainer.epoch + budget_epochs
        self.send("started", {"device": str(trainer.device), "batch_size": trainer.batch_size,
                              "batch_clamped": trainer.batch_clamped, "n_train": trainer.n_train, "pid": os.getpid()})
        self.send_view()
        status, message = "finished", ""
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            while trainer.epoch < target:
                if self.must_stop():
                    status, message = "stopped", self.stop_sentence
                    break
                if trainer.layer_stats is not None:  # slow: every epoch's statistics; else at most a share of time
                    slow = bool(self.speed and self.speed <= SLOW_EPOCHS_PER_S)
                    trainer.layer_stats.share = None if slow else LAYER_STATS_SHARE
                    trainer.layer_stats.final_epoch = target
                trainer.run_epoch(self.control)
                row = trainer.history[-1]  # the epoch's row, as the trainer keeps it, with its layers' statistics
                self.rows.append({**row, "layers": trainer.last_layers} if trainer.last_layers else row)
                if self.mode == "step":
                    self.mode = "pause"
                now = time.monotonic()
                slow = bool(self.speed and self.speed <= SLOW_EPOCHS_PER_S)
                if slow or now >= self.next_flush:
                    self.flush()
                if slow or now >= self.next_view:  # slow: every epoch, so the boundary visibly bends and replays
                    self.send_view()
            if capped and status == "finished":
                status, message = "stopped", steps_sentence(self.budget_steps, trainer.epoch)
        except EarlyStopped as exc:
            status, message = "finished", exc.sentence
        except Stopped:
            status, message = "stopped", self.stop_sentence
        except Diverged as exc:
            status, message = "diverged", exc.sentence
        if status == "finished" and not message:
            message = trainer.restore_best() or ""  # keeping the best validation epoch
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        self.flush(view=True)
        state = {k: v.detach().cpu().numpy().copy() for k, v in trainer.model.state_dict().items()}
        self.send("done", status, message, state, {"train_seconds": seconds, "train_cpu_seconds": cpu_seconds, "steps": trainer.steps, "best_epoch": trainer.best_epoch,
                                                   "lr_changes": list(trainer.lr_changes),
                                                   "epochs": trainer.epoch})


class _SweepRunner(_JobRunner):
    """One "sweep" job: every member trained together with SweepTrainer, under a run's controls (play, pause, step,
    stop, speed) and budgets. Each epoch is one row holding every member (``sweep_progress.epoch_row``); a view
    holds every member's boundary; the end sends each member's weights. A member that diverges stops alone."""

    def __init__(self, job_id: int, payload: dict[str, Any], control_conn, progress_conn) -> None:
        super().__init__(job_id, payload, control_conn, progress_conn)
        self.kept_tiles: dict[int, Any] = {}  # boundaries of members that stopped (their weights no longer change)

    def handle(self, message: tuple) -> bool:
        if message[0] == "lr":
            return False  # each member has its own rate; a live change is a run's control only
        return super().handle(message)

    def out_of_time(self) -> bool:
        if not super().out_of_time():
            return False
        self.stop_sentence = sweep_seconds_sentence(self.budget_seconds)
        return True

    def send_view(self) -> None:
        from playground.builder.sweep_progress import sweep_view

        p = self.payload
        started = time.monotonic()
        self.send("view", sweep_view(self.trainer, p.get("plane_features"), p.get("standardization"), self.kept_tiles))
        cost = time.monotonic() - started
        self.next_view = time.monotonic() + max(VIEW_EVERY_S, 20 * cost)

    def run(self) -> None:
        import torch

        from playground.builder import sweep_progress
        from playground.builder.sweep import SweepConfig, SweepTrainer
        from playground.builder.sweep_layer_stats import sweep_stride
        from playground.builder.training import Stopped

        p = self.payload
        try:
            sweep = SweepConfig.from_dict(p["sweep"])
            tensors = {k: torch.from_numpy(_writable(v)) for k, v in p["tensors"].items()}
            every = (sweep_stride(sweep.base.train.epochs, sweep.n_members, len(sweep.base.model.hidden) + 1)
                     if p.get("layer_stats", True) else None)
            self.trainer = trainer = SweepTrainer(sweep, tensors, device=p.get("device_override"),
                                                  layer_stats_every=every)
        except PlaygroundError as exc:
            self.send("error", exc.sentence, exc.detail)
            return
        except Exception as exc:  # a library error building the sweep (e.g. CUDA out of memory)
            self.send("error", "The sweep could not start; check the settings and try again.",
                      f"{type(exc).__name__}: {exc}"[:600])
            return
        members, classification = sweep.n_members, trainer.task == "classification"
        target = sweep.base.train.epochs
        # The step budget holds for each member (they step together), in whole epochs, as for a run.
        budget_epochs = self.budget_steps // -(-trainer.n_train // trainer.batch_size)
        capped = target > budget_epochs
        target = min(target, budget_epochs)
        self.send("started", {"device": str(trainer.device), "batch_size": trainer.batch_size,
                              "batch_clamped": trainer.batch_clamped, "n_train": trainer.n_train, "pid": os.getpid(),
                              "members": members})
        self.send_view()
        status, message = "finished", ""
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            while trainer.epoch < target and trainer.active:
                if self.must_stop():
                    status, message = "stopped", self.stop_sentence
                    break
                if trainer.layer_stats is not None:  # as a run's: at most a share of the time, and the last epoch
                    trainer.layer_stats.share = (None if self.speed and self.speed <= SLOW_EPOCHS_PER_S
                                                  else SWEEP_LAYER_STATS_SHARE)
                    trainer.layer_stats.final_epoch = target
                results = trainer.run_epoch(self.control)
                self.rows.append(sweep_progress.epoch_row(trainer.epoch, members, results, classification,
                                                          trainer.last_layers))
                if self.mode == "step":
                    self.mode = "pause"
                now = time.monotonic()
                if now >= self.next_flush or self.speed:
                    self.flush()
                if now >= self.next_view:
                    self.send_view()
            if capped and status == "finished" and trainer.active:
                status, message = "stopped", sweep_steps_sentence(self.budget_steps, trainer.epoch)
        except Stopped:
            status, message = "stopped", self.stop_sentence
        restored: list[int] = []
        if status == "finished":
            if all(s == sweep_progress.DIVERGED for s in trainer.status):
                status, message = "diverged", sweep_progress.ALL_DIVERGED_SENTENCE
            else:
                restored = trainer.restore_best()  # keeping the best validation epoch, as each run does
                message = sweep_progress.outcome_sentence(trainer.status)
        elif status == "stopped" and not message:
            message = sweep_progress.outcome_sentence(trainer.status)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        self.kept_tiles.clear()
        self.flush(view=True)
        states = [{k: v.numpy().copy() for k, v in trainer.state_dict_cpu(i).items()} for i in range(members)]
        self.send("done", status, message, states, {
            "train_seconds": seconds, "train_cpu_seconds": cpu_seconds, "steps": trainer.steps, "epochs": trainer.epoch,
            "member_status": list(trainer.status), "member_reasons": list(trainer.reason),
            "best_epoch": list(trainer.best_epoch), "restored": restored, "exactness": trainer.exactness()})


# The runners by job kind. A runner is made with (job_id, payload, control_conn, progress_conn), its
# ``run()`` sends "started" (or "error"), progress, and ends with "done" or "error"; it reads control
# messages from ``control_conn`` (``poll``/``recv``) and honours the payload's budget.
RUNNERS: dict[str, type] = {"run": _JobRunner, "sweep": _SweepRunner}


def prepare_process() -> None:
    """Settings of a process that trains: one torch thread, warm. (Its lower priority than the web server's is
    set before torch is imported: ``worker_start.lower_priority``, called by the process's or the actor's start.)"""
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    _warm_up()


def run_job(job_id: int, payload: dict[str, Any], control_conn, progress_conn) -> None:
    """Run one job with the runner of its kind; every failure becomes an "error" message, never silence.
    Raises SystemExit when told to quit."""
    import torch

    kind = str(payload.get("kind", "run"))
    runner_class = RUNNERS.get(kind)
    if runner_class is None:
        progress_conn.send(("error", job_id, "This server cannot run that kind of job.", f"unknown job kind: {kind[:40]}"))
        return
    runner = runner_class(job_id, payload, control_conn, progress_conn)
    try:
        runner.run()
    except SystemExit:
        raise
    except Exception as exc:  # never let one job kill the worker silently
        progress_conn.send(("error", job_id, "Training failed; change the settings and try again.",
                            "".join(traceback.format_exception_only(exc)).strip()[:600]))
    finally:
        runner.trainer = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def worker_main(control_conn, progress_conn) -> None:
    """Entry point of a worker process: warm up, then run jobs one after another until told to quit."""
    prepare_process()
    try:
        progress_conn.send(("ready", None, os.getpid()))
    except (BrokenPipeError, EOFError, OSError):
        return  # the server stopped while this worker was starting: nothing to report to, no traceback
    while True:
        try:
            message = control_conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "quit":
            return
        if message[0] != "start":
            continue  # a late control message for a job that already ended
        try:
            run_job(message[1], message[2], control_conn, progress_conn)
        except SystemExit:
            return


