"""ARCHITECTURE.md's "where each kind of change goes", done as a contributor does it: a copy of the project with one
new row each in its source (an optimizer, an activation, a dataset and its generator), and nothing else edited;
then every consumer is asked for it: the Model Builder's widgets and config, a sweep, the Autograd page's optimizer
paths and train.py. (A Tensor Lab operation row is added at test time in tests/app/test_tensor_lab.py.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

ROWS = {  # file -> (the line a new row goes after, the row)
    "playground/optimizers.py": (
        '                                ("weight_decay", "weight_decay")), batched=rmsprop_batched),\n',
        '    OptimizerChoice("adamax", "Adamax", "Adam with the infinity norm.", "Adamax",\n'
        '                    (("lr", "lr"), ("betas", ("beta1", "beta2")), ("weight_decay", "weight_decay"))),\n'),
    "playground/builder/registry.py": (
        '    ActivationChoice("linear", "Linear", "no activation", None),\n',
        '    ActivationChoice("silu", "SiLU", "x * sigmoid(x)", nn.SiLU),\n'),
    "playground/builder/datasets.py": (
        "def make_multigauss(",
        None),  # the generator function: written before this line (below)
}
DATASET_ROW = ('    DatasetChoice("plane", "Plane (regression)", "y = (x1 + x2) / 12 plus noise.", "regression", 0, '
               '"make_plane"),\n')
NEW_DATASET_ROW = '    DatasetChoice("ring", "Ring", "Inside or outside a circle of radius 3.", "classification", 2, "make_ring"),\n'
GENERATOR = '''def make_ring(n_samples: int, noise: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes: inside or outside the circle of radius 3."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-6.0, 6.0, (n_samples, 2)) + rng.normal(0.0, noise, (n_samples, 2))
    y = (np.hypot(X[:, 0], X[:, 1]) > 3.0).astype(np.int64)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)


'''

CHECK = r'''
import subprocess, sys, tempfile
from pathlib import Path
import torch
from streamlit.testing.v1 import AppTest
from playground.builder import codegen, registry
from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.datasets import prepare_data
from playground.builder.sweep import SweepAxis, SweepConfig, SweepTrainer
from playground.builder.training import Trainer
from playground.autograd.optimizer_paths import OptimizerSpec, optimizer_kinds, run_path

# The Model Builder: each row is an option of its widget, and a config with all three validates.
for setting, name in (("optimizer", "adamax"), ("activations", "silu"), ("dataset", "ring")):
    assert name in registry.BY_NAME[setting].options, (setting, registry.BY_NAME[setting].options)
at = AppTest.from_file("app.py", default_timeout=120)
at.run()
at.switch_page("pages/model_builder.py")
at.run()
assert not at.exception, [e.value for e in at.exception]
optimizer = [w for w in at.selectbox if w.key == registry.BY_NAME["optimizer"].widget_key]
assert optimizer and "Adamax" in optimizer[0].options, ("the optimizer's widget lacks the new row", optimizer)
config = RunConfig(data=DataConfig(dataset="ring", n_samples=200, noise=0.1),
                   model=ModelSpec(in_features=2, hidden=(6,), activations=("silu",), out_features=2),
                   train=TrainConfig(optimizer="adamax", lr=0.01, epochs=3, batch_size=32, seed=3))
tensors = prepare_data(config.data).arrays()

# A sweep trains them, each member as its single run.
sweep = SweepConfig(config, (SweepAxis("lr", values=(0.01, 0.02)),))
trainer = SweepTrainer(sweep, tensors)
trainer.fit(3)
for i in range(2):
    run = Trainer(sweep.member(i), tensors)
    run.fit(3)
    ours, theirs = trainer.state_dict_cpu(i), run.state_dict_cpu()
    worst = max(float((ours[k] - theirs[k]).abs().max()) for k in theirs)
    assert worst <= 1e-4, (i, worst)

# The Autograd page's optimizer paths offer it and walk with torch.optim.Adamax.
assert "Adamax" in optimizer_kinds()
path = run_path("x**2 + y**2", (1.0, -1.0), 5, OptimizerSpec(kind="Adamax", lr=0.1))
assert path.losses[-1] < path.losses[0]

# train.py names them and runs as exported, in a folder without the project.
script = codegen.script(config)
assert "torch.optim.Adamax(" in script and "nn.SiLU()" in script and "def make_ring(" in script
folder = Path(tempfile.mkdtemp())
(folder / "train.py").write_text(script)
done = subprocess.run([sys.executable, "-I", "train.py"], cwd=folder, capture_output=True, text=True, timeout=300)
assert done.returncode == 0, done.stderr[-2000:]
print("every consumer has the new rows")
'''


def add_rows(copy: Path) -> None:
    for name, (after, row) in ROWS.items():
        path = copy / name
        text = path.read_text()
        assert text.count(after) == 1, f"{name}: the line a row goes after has moved"
        if row is None:
            text = text.replace(after, GENERATOR + after)
        else:
            text = text.replace(after, after + row)
        path.write_text(text)
    registry = copy / "playground/builder/registry.py"
    text = registry.read_text()
    assert text.count(DATASET_ROW) == 1, "registry.py: the dataset row a row goes after has moved"
    registry.write_text(text.replace(DATASET_ROW, DATASET_ROW + NEW_DATASET_ROW))


def test_one_row_each_reaches_every_consumer(tmp_path):
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("app.py", "playground", "views", "pages", "assets", ".streamlit"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy(source, copy / name)
    add_rows(copy)
    (copy / "check.py").write_text(CHECK)
    done = subprocess.run([sys.executable, "check.py"], cwd=copy, capture_output=True, text=True, timeout=600,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(copy)})
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-4000:])
    assert "every consumer has the new rows" in done.stdout


def test_the_copy_without_rows_does_not_have_them():
    """The check above is not vacuous: the project as it is has none of the three rows."""
    from playground.builder import registry

    assert "adamax" not in registry.OPTIMIZERS and "silu" not in registry.ACTIVATIONS
    assert "ring" not in registry.DATASETS
