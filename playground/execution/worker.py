"""The training worker process: it runs one job at a time with the Trainer and streams progress back.

It never touches Streamlit. It sends progress through a pipe: epoch rows (batched), a compact view
(uint8/float32 heatmap, neuron thumbnails, the drawn weights) a few times a second, and at the end the
weights as NumPy arrays. Play, pause, step and stop arrive as control messages.
"""

from __future__ import annotations

import os
import time
import traceback
from typing import Any

from playground.builder.config import RunConfig
from playground.errors import PlaygroundError

WORKER_NICENESS = 5  # workers yield the CPU to the server process, so pages stay responsive while they train
FLUSH_EVERY_S = 0.1  # epoch rows are sent in batches at most this often
VIEW_EVERY_S = 0.5  # heatmap, thumbnails and weights at most this often (and never more than ~5% of the time)
SLOW_EPOCHS_PER_S = 20.0  # at this speed or slower every epoch's view is sent (the replay has every epoch)



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


class _JobRunner:
    """One job inside the worker: the Trainer, the control state, and the throttled progress messages."""

    def __init__(self, job_id: int, payload: dict[str, Any], control_conn, progress_conn) -> None:
        self.job_id = job_id
        self.payload = payload
        self.control_conn = control_conn
        self.progress_conn = progress_conn
        self.mode = "pause" if payload.get("start_paused") else "run"
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
        from playground.builder.decision_boundary import heatmap, layer_weights, neuron_thumbnails

        trainer, p = self.trainer, self.payload
        started = time.monotonic()
        view: dict[str, Any] = {"weights": layer_weights(trainer.model), "epoch": trainer.epoch}
        if p.get("plane_features"):
            view["heatmap"] = heatmap(trainer.model, p["plane_features"], p.get("standardization"), trainer.task)
            view["thumbnails"] = neuron_thumbnails(trainer.model, p["plane_features"], p.get("standardization"))
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

    def control(self) -> bool:
        """Called inside epochs: read control messages, block while paused; True means stop now."""
        while self.control_conn.poll():
            if self.handle(self.control_conn.recv()):
                return True
        if self.mode == "pause":
            self.flush(view=True)
            self.send("status", "paused")
            while self.mode == "pause":
                if self.handle(self.control_conn.recv()):
                    return True
            self.send("status", "running")
        return False

    def run(self) -> None:
        import torch

        from playground.builder.training import CHECK_EVERY_S, Diverged, EarlyStopped, Stopped, Trainer

        p = self.payload
        config = RunConfig.from_dict(p["config"])
        tensors = {k: torch.from_numpy(v) for k, v in p["tensors"].items()}
        initial = {k: torch.from_numpy(v) for k, v in p["initial_state"].items()} if p.get("initial_state") else None
        try:
            self.trainer = trainer = Trainer(config, tensors, initial_state=initial)
        except PlaygroundError as exc:
            self.send("error", exc.sentence, exc.detail)
            return
        except Exception as exc:  # a library error building the run (e.g. CUDA out of memory)
            self.send("error", "The run could not start; check the settings and try again.", f"{type(exc).__name__}: {exc}"[:600])
            return
        trainer.epoch = int(p.get("epoch_offset", 0))
        target = trainer.epoch + config.train.epochs
        self.send("started", {"device": str(trainer.device), "batch_size": trainer.batch_size,
                              "batch_clamped": trainer.batch_clamped, "n_train": trainer.n_train, "pid": os.getpid()})
        self.send_view()
        status, message = "finished", ""
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            while trainer.epoch < target:
                now = time.monotonic()
                if self.mode != "run" or now >= self.next_check:  # ask for control messages every CHECK_EVERY_S
                    if self.control():
                        status = "stopped"
                        break
                    self.next_check = now + CHECK_EVERY_S
                if self.pace():
                    status = "stopped"
                    break
                trainer.run_epoch(self.control)
                self.rows.append(trainer.history[-1])  # the epoch's row, as the trainer keeps it
                if self.mode == "step":
                    self.mode = "pause"
                now = time.monotonic()
                slow = bool(self.speed and self.speed <= SLOW_EPOCHS_PER_S)
                if slow or now >= self.next_flush:
                    self.flush()
                if slow or now >= self.next_view:  # slow: every epoch, so the boundary visibly bends and replays
                    self.send_view()
        except EarlyStopped as exc:
            status, message = "finished", exc.sentence
        except Stopped:
            status = "stopped"
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


def worker_main(control_conn, progress_conn) -> None:
    """Entry point of a worker process: warm up, then run jobs one after another until told to quit."""
    import torch

    try:
        os.nice(WORKER_NICENESS)  # the web server (every session's reruns) comes first; training takes the rest
    except OSError:
        pass
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    _warm_up()
    progress_conn.send(("ready", None, os.getpid()))
    while True:
        try:
            message = control_conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "quit":
            return
        if message[0] != "start":
            continue  # a late control message for a job that already ended
        job_id, payload = message[1], message[2]
        runner = _JobRunner(job_id, payload, control_conn, progress_conn)
        try:
            runner.run()
        except SystemExit:
            return
        except Exception as exc:  # never let one job kill the worker silently
            progress_conn.send(("error", job_id, "Training failed; change the settings and try again.",
                                "".join(traceback.format_exception_only(exc)).strip()[:600]))
        finally:
            runner.trainer = None
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


