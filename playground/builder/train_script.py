"""Code export: a self-contained ``train.py`` that reproduces a run with plain PyTorch.

It follows the course's shapes: the data generation (copied from ``playground.builder.datasets`` with
``inspect.getsource``, so the exported code is the code the app ran) or a CSV read from a path, a
``Dataset`` and a ``DataLoader``, an ``nn.Module`` holding an ``nn.Sequential``, the loss, the optimizer,
the training loop with ``model.train()``, validation with ``model.eval()`` and ``torch.no_grad()``,
testing, ``torch.save(model.state_dict(), ...)`` and the reproducibility block.

The loop does exactly what ``playground.builder.training`` does (see its docstring), so for the same config and
seed on the same device its per-epoch losses equal the app's: ``torch.manual_seed(seed)`` right before
the model is built, a ``DataLoader(..., shuffle=True, generator=torch.Generator().manual_seed(seed))``
(which draws what the engine draws), the penalty added to the objective only, and evaluation loaders
with their own generator so that evaluating never moves the global RNG that dropout uses.
"""

from __future__ import annotations

import inspect
import json
import pprint
import textwrap

from playground.builder import datasets, training
from playground.builder.config import CSV_DATASET, RunConfig

ACTIVATION_CODE = {
    "relu": "nn.ReLU()",
    "tanh": "nn.Tanh()",
    "sigmoid": "nn.Sigmoid()",
    "leaky_relu": "nn.LeakyReLU()",
    "linear": None,
}

# The input features, written as playground.builder.datasets.expand_features computes them.
FEATURE_CODE = {
    "x1": "x1",
    "x2": "x2",
    "x1^2": "x1 * x1",
    "x2^2": "x2 * x2",
    "x1*x2": "x1 * x2",
    "sin_x1": "torch.sin(x1)",
    "sin_x2": "torch.sin(x2)",
}


def model_code(config: RunConfig) -> str:
    """``nn.Sequential(...)`` layer by layer, in the order ``build_model`` builds it (same state_dict keys)."""
    spec = config.model
    lines: list[str] = []
    width = spec.in_features
    for hidden, activation in zip(spec.hidden, spec.activations, strict=True):
        lines.append(f"nn.Linear({width}, {hidden}),")
        if ACTIVATION_CODE[activation]:
            lines.append(f"{ACTIVATION_CODE[activation]},")
        if spec.dropout > 0:
            lines.append(f"nn.Dropout({spec.dropout!r}),")
        width = hidden
    lines.append(f"nn.Linear({width}, {spec.out_features}),")
    return "\n".join(lines)


def _source(function) -> str:
    return textwrap.dedent(inspect.getsource(function)).rstrip() + "\n"


def _data_section(config: RunConfig) -> str:
    data = config.data
    if data.dataset == CSV_DATASET:
        return _CSV_SECTION.format(
            target=json.dumps(data.csv_target or None), task=json.dumps(data.csv_task or None), name=json.dumps(data.csv_name)
        )
    generator = datasets.GENERATORS[data.dataset]
    columns = ", ".join(FEATURE_CODE[f] for f in data.features)
    return (
        "# The data: the playground's own generator, copied from playground/builder/datasets.py.\n"
        f"{_source(generator)}\n\n"
        "def make_features(points):\n"
        f'    """The input features {", ".join(data.features)} of 2-D points [n, 2]."""\n'
        "    x1, x2 = points[:, 0], points[:, 1]\n"
        f"    return torch.stack([{columns}], dim=1).to(torch.float32)\n\n\n"
        "def load_all():\n"
        f"    points, y = {generator.__name__}(N_SAMPLES, NOISE, DATA_SEED)\n"
        "    return make_features(points), y, " + repr(tuple(data.features)) + "\n"
    )


_CSV_SECTION = '''# The data: a CSV read from a path, as the playground reads an upload (numeric columns are the
# features, TARGET is the target; classes are its distinct values in sorted order).
CSV_NAME = {name}  # the file the run was trained on
TARGET = {target}
CSV_TASK = {task}


def load_all():
    import csv
    import io

    with open(ARGS.csv, "rb") as handle:
        raw = handle.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    head = "\\n".join(text.splitlines()[:20])
    delimiter = max((",", ";", "\\t"), key=head.count) if any(head.count(s) for s in (",", ";", "\\t")) else ","
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in r)]
    header, body = [h.strip() for h in rows[0]], rows[1:]
    target = TARGET or header[-1]
    t = header.index(target)

    def number(cell):
        try:
            value = float(cell.strip())
        except ValueError:
            return None
        return value if math.isfinite(value) else None

    features, columns = [], []
    for j, name in enumerate(header):
        if j == t:
            continue
        values = [number(row[j]) for row in body]
        if all(v is None for v in values):
            continue  # a text column: left out
        features.append(name)
        columns.append(values)
    cells = [row[t].strip() for row in body]
    if TASK == "regression":
        y = torch.tensor([number(c) for c in cells], dtype=torch.float32)
    else:
        numbers = [number(c) for c in cells]
        keys = sorted(set(numbers)) if all(n is not None for n in numbers) else sorted(set(cells))
        index = {{k: i for i, k in enumerate(keys)}}
        values = numbers if all(n is not None for n in numbers) else cells
        y = torch.tensor([index[v] for v in values], dtype=torch.int64)
    X = torch.tensor(columns, dtype=torch.float32).T.contiguous()
    return X, y, tuple(features)
'''


def render(config: RunConfig) -> str:
    """The whole ``train.py`` for ``config``: run it with ``python train.py``."""
    data, spec, train = config.data, config.model, config.train
    settings = pprint.pformat(config.to_dict(), width=100, sort_dicts=True)
    if train.optimizer == "sgd":
        optimizer = (
            f"torch.optim.SGD(model.parameters(), lr=LR, momentum={train.momentum!r}, "
            f"weight_decay={train.weight_decay!r}, fused=FUSED)"
        )
    else:
        optimizer = (
            f"torch.optim.Adam(model.parameters(), lr=LR, betas=({train.beta1!r}, {train.beta2!r}), "
            f"weight_decay={train.weight_decay!r}, fused=FUSED)"
        )
    loss = "nn.MSELoss()" if spec.task == "regression" else "nn.CrossEntropyLoss()"
    regularization = train.regularization if train.reg_rate > 0 else "none"
    if regularization == "l1":
        penalty = "REG_RATE * sum(w.abs().sum() for w in weights)"
    elif regularization == "l2":
        penalty = "REG_RATE * sum(w.pow(2).sum() for w in weights)"
    else:
        penalty = ""
    pieces = {
        "settings": textwrap.indent(settings, "# "),
        "dataset": data.dataset,
        "n_samples": data.n_samples,
        "noise": repr(data.noise),
        "data_seed": data.seed,
        "train_fraction": repr(data.train_fraction),
        "val_fraction": repr(data.val_fraction),
        "standardize": data.standardize,
        "task": json.dumps(spec.task),
        "seed": train.seed,
        "lr": repr(train.lr),
        "batch_size": train.batch_size,
        "epochs": train.epochs,
        "shuffle": train.shuffle,
        "reg_rate": repr(train.reg_rate),
        "device": json.dumps(train.device),
        "deterministic": train.cudnn_deterministic,
        "benchmark": train.cudnn_benchmark,
        "eval_batch": training.EVAL_BATCH,
        "data_section": _data_section(config),
        "split_sources": "\n\n".join(
            _source(f)
            for f in (datasets.split_sizes, datasets.split_indices, datasets.fit_standardization, datasets.standardize)
        ),
        "layers": textwrap.indent(model_code(config), " " * 12),
        "loss": loss,
        "optimizer": optimizer,
        "backward_line": (
            f"        (loss + {penalty}).backward()  # the penalty trains the weights; the reported loss is the data's\n"
            if penalty
            else "        loss.backward()\n"
        ),
        "csv_arg": (
            '    parser.add_argument("--csv", required=True, help="the CSV file the run was trained on")\n'
            if data.dataset == CSV_DATASET
            else ""
        ),
    }
    return _TEMPLATE.format(**pieces)


_TEMPLATE = '''"""Reproduce a PyTorch Playground run with plain PyTorch.

    python train.py                 # train as the playground did, save model.pt
    python train.py --epochs 5      # fewer epochs
    python train.py --device cpu    # where to train (the same device reproduces the same numbers)

The setup it reproduces:
{settings}
"""

import argparse
import json
import math
import random

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

DATASET = "{dataset}"
N_SAMPLES = {n_samples}
NOISE = {noise}
DATA_SEED = {data_seed}
TRAIN_FRACTION = {train_fraction}
VAL_FRACTION = {val_fraction}
STANDARDIZE = {standardize}
TASK = {task}
SEED = {seed}
LR = {lr}
BATCH_SIZE = {batch_size}
EPOCHS = {epochs}
SHUFFLE = {shuffle}
REG_RATE = {reg_rate}
DEVICE = {device}
EVAL_BATCH = {eval_batch}
ARGS = None


# ---------------------------------------------------------------------------------------------------
# Reproducibility: one seed for Python, NumPy and torch (and every CUDA device), deterministic cuDNN.
# The reverse (deterministic False, benchmark True) trades reproducibility for speed.
# ---------------------------------------------------------------------------------------------------
def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = {deterministic}
    torch.backends.cudnn.benchmark = {benchmark}


# ---------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------
{data_section}

# The split and the standardisation, copied from playground/builder/datasets.py.
{split_sources}

class PlaygroundDataset(Dataset):
    """The course's Dataset: data prepared in __init__, one sample from __getitem__, the size from __len__."""

    def __init__(self, X, y):
        self.X = X
        self.y = y

    def __getitem__(self, index):
        return self.X[index], self.y[index]

    def __len__(self):
        return len(self.y)


def make_datasets():
    """Train, validation and test sets: features standardised with the training split's statistics."""
    X, y, feature_names = load_all()
    train_idx, val_idx, test_idx = split_indices(len(y), TRAIN_FRACTION, VAL_FRACTION, DATA_SEED)
    stats = fit_standardization(X[train_idx]) if STANDARDIZE else None
    X = standardize(X, stats)
    if TASK == "regression":
        y = y.reshape(-1, 1)  # MSELoss compares [n, 1] outputs with [n, 1] targets
    sets = [PlaygroundDataset(X[idx], y[idx]) for idx in (train_idx, val_idx, test_idx)]
    return sets, stats, feature_names


# ---------------------------------------------------------------------------------------------------
# Model: an nn.Module whose __init__ defines the layers and whose forward computes the output.
# ---------------------------------------------------------------------------------------------------
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
{layers}
        )

    def forward(self, x):
        return self.layers(x)


# ---------------------------------------------------------------------------------------------------
# Training, validation, testing
# ---------------------------------------------------------------------------------------------------
def train_one_epoch(model, loader, criterion, optimizer, device):
    model.train()
    weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]  # regularised (not biases)
    total = 0.0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        out = model(x)
        loss = criterion(out, y)
        if not math.isfinite(loss.item()):
            raise FloatingPointError("the loss is not finite: lower the learning rate")
{backward_line}        optimizer.step()
        total += loss.item() * len(x)
    return total / len(loader.dataset)


def evaluate(model, loader, criterion, device):
    """Loss (and accuracy) over a whole set: model.eval(), no gradients, weighted by batch size."""
    model.eval()
    total, correct = 0.0, 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            out = model(x)
            total += criterion(out, y).item() * x.size(0)
            if TASK == "classification":
                correct += int((out.argmax(1) == y).sum().item())
    n = len(loader.dataset)
    if n == 0:
        return float("nan"), None
    return total / n, (correct / n if TASK == "classification" else None)


def predict(model, loader, device):
    """Testing as the course does it: eval mode, no gradients, predictions moved back to the CPU."""
    model.eval()
    outputs = []
    with torch.no_grad():
        for x, _ in loader:
            outputs.append(model(x.to(device)).cpu())
    return torch.cat(outputs) if outputs else torch.empty(0)


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--device", default=DEVICE if not DEVICE.startswith("cuda") or torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default="model.pt", help="where to save the state_dict")
    parser.add_argument("--history", default=None, help="also write the per-epoch metrics to this JSON file")
{csv_arg}    ARGS = parser.parse_args()
    device = torch.device(ARGS.device)

    seed_everything(SEED)
    (train_set, val_set, test_set), stats, feature_names = make_datasets()

    g = torch.Generator().manual_seed(SEED)  # drives the shuffling, epoch after epoch
    train_loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=SHUFFLE, generator=g)
    # Evaluation loaders get a generator of their own, so evaluating never moves the global RNG
    # (which dropout draws from).
    val_loader = DataLoader(val_set, batch_size=EVAL_BATCH, generator=torch.Generator())
    train_eval_loader = DataLoader(train_set, batch_size=EVAL_BATCH, generator=torch.Generator())
    test_loader = DataLoader(test_set, batch_size=EVAL_BATCH, generator=torch.Generator())

    torch.manual_seed(SEED)  # the initial weights come from this seed
    model = Net().to(device)
    criterion = {loss}
    FUSED = device.type in ("cpu", "cuda")  # one update for all parameters at once (the same algorithm, faster)
    optimizer = {optimizer}

    history = []
    for epoch in range(1, ARGS.epochs + 1):
        train_loss = train_one_epoch(model, train_loader, criterion, optimizer, device)
        val_loss, val_acc = evaluate(model, val_loader, criterion, device)
        row = {{"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss}}
        if TASK == "classification":
            row["train_acc"] = evaluate(model, train_eval_loader, criterion, device)[1]
            row["val_acc"] = val_acc
        history.append(row)
        print(f"epoch {{epoch:4d}}  train loss {{train_loss:.6f}}  validation loss {{val_loss:.6f}}")

    test_loss, test_acc = evaluate(model, test_loader, criterion, device)
    predictions = predict(model, test_loader, device)
    print(f"test loss {{test_loss:.6f}}" + (f"  test accuracy {{test_acc:.4f}}" if test_acc is not None else ""))
    print(f"{{len(predictions)}} test predictions")

    torch.save(model.state_dict(), ARGS.out)  # load with model.load_state_dict(torch.load(ARGS.out, weights_only=True))
    print(f"saved the state_dict to {{ARGS.out}}")
    if ARGS.history:
        with open(ARGS.history, "w") as handle:
            json.dump({{"history": history, "standardization": stats, "features": list(feature_names)}}, handle)


if __name__ == "__main__":
    main()
'''
