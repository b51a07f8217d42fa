"""The one code generator: the PyTorch the Model Builder shows and the ``train.py`` it exports, from one set of
snippets.

Every snippet writes the settings on screen as literal values, each the way its registry row says it
appears (``Setting.code_text``). The data comes from the playground's own functions, copied with
``inspect.getsource`` (the generators, the split, the one CSV reader), so the code shown is the code that
ran. The model class is ``Net`` with its layers in ``self.layers``: its state_dict keys are those of every
download, so the course's ``model.load_state_dict(torch.load(path, weights_only=True))`` works with the
page's code as it stands.

Each panel runs as shown: ``data_code`` (Dataset and DataLoader), ``model_code`` (the model),
``load_code`` (load the downloaded weights and test them), ``weights_code`` (the spec JSON's loading lines)
and ``script`` (the whole ``train.py``, which reproduces the run's per-epoch losses on the same device).
"""

from __future__ import annotations

import inspect
import textwrap

from playground import limits
from playground.builder import datasets, layer_stats, registry
from playground.builder.config import CSV_DATASET, ModelSpec, RunConfig, TrainConfig
from playground.builder.registry import BY_NAME, code_literal
from playground.builder.training import EVAL_BATCH, optimizer_arguments

# The playground functions whose source the code carries.
SPLIT_FUNCTIONS = (datasets.split_sizes, datasets.split_indices, datasets.fit_standardization, datasets.standardize,
                   datasets.fit_target_standardization)
LAYER_STATS_FUNCTIONS = (layer_stats.rounded, layer_stats.quantiles, layer_stats.rows_of, layer_stats.distributions,
                         layer_stats.gradient_summary, layer_stats.layer_numbers, layer_stats.figures,
                         layer_stats.model_figures, layer_stats.followed_by_relu, layer_stats.fired_units)


def csv_functions() -> tuple:
    """The CSV reader's functions, imported (with pandas, 0.4 s) only for a CSV's code, not on every page's first run."""
    from playground.builder import csv_table

    return csv_table.CsvProblem, csv_table._separator, csv_table.read_header, csv_table.read_table


def code_of(name: str, value: object) -> str:
    """How the registry writes setting ``name`` with ``value``."""
    return BY_NAME[name].code_text(value)


def _source(obj) -> str:
    return textwrap.dedent(inspect.getsource(obj)).rstrip() + "\n"


def _comment(text: str) -> str:
    """User text (a file or column name) made safe for a ``#`` comment: one line, printable, bounded."""
    flat = "".join(ch if ch.isprintable() else " " for ch in str(text))
    return flat[:80] + ("..." if len(flat) > 80 else "")


# ------------------------------------------------------------------------------------------------ blocks


def imports(config: RunConfig, script: bool = False, loaders: bool = True, model: bool = True) -> str:
    csv = config.data.dataset == CSV_DATASET
    lines = []
    if script:
        lines += ["import argparse", "import copy", "import json"]
    if csv:
        lines += ["import io"]
    lines += ["import math"]
    if script:
        lines += ["import random"]
        lines += ["from typing import Any"]
    if csv:
        lines += ["import warnings", "from pathlib import Path"]
    lines += ["", "import numpy as np"]
    if csv:
        lines += ["import pandas as pd"]
    lines += ["import torch"]
    if model:
        lines += ["from torch import nn"]
    if loaders:
        lines += ["from torch.utils.data import DataLoader, Dataset"]
    return "\n".join(lines) + "\n"


def seed_block(train: TrainConfig) -> str:
    """The course's reproducibility block."""
    return (
        "def seed_everything(seed):\n"
        '    """One seed for Python, NumPy and torch (every CUDA device too), and deterministic cuDNN."""\n'
        "    random.seed(seed)\n"
        "    np.random.seed(seed)\n"
        "    torch.manual_seed(seed)\n"
        "    torch.cuda.manual_seed_all(seed)\n"
        f"    {code_of('deterministic', train.cudnn_deterministic)}  # True: the same result every run\n"
        f"    {code_of('benchmark', train.cudnn_benchmark)}  # True: faster, results may vary\n"
    )


def data_block(config: RunConfig, script: bool = False) -> str:
    """The data: the generator (or the CSV reader), the features, the split, standardisation, the Dataset. A CSV
    that is not where the code looks is a sentence naming the file and the place (and, in train.py, ``--csv``)."""
    data, task = config.data, config.model.task
    head = [
        f"TASK = {task!r}",
        code_of("data_seed", data.seed) + "  # seeds the data and the split",
        code_of("standardize", data.standardize) + "  # features: mean 0, std 1 on the training split",
    ]
    if task == "regression":
        head.append(code_of("standardize_target", data.standardize_target) + "  # train on a standardised target")
    if data.dataset == CSV_DATASET:
        head += [
            code_of("csv_name", data.csv_name or "data.csv") + "  # the file you uploaded, beside this script",
            code_of("csv_target", data.csv_target) + "  # '' means the last column",
            code_of("csv_task", data.csv_task) + "  # '' means inferred from the target",
        ]
        body = (
            "# The one CSV reader the playground uses, copied from playground/builder/csv_table.py.\n"
            + "\n\n".join(_source(f) for f in csv_functions()) + "\n\n"
            "def load_all(path=CSV_NAME):\n"
            '    """The features, the targets, their names, the classes and each row\'s place in the table."""\n'
            "    if not Path(path).is_file():\n"
            '        raise SystemExit(f"Cannot find the CSV file {path!r}: it was looked for at {Path(path).absolute()}. "\n'
            '                         "Put the CSV you uploaded to the playground there'
            + (', or give its path with --csv path/to/your.csv' if script else '') + '.")\n'
            '    with open(path, "rb") as handle:\n'
            "        table = read_table(handle.read(), TARGET or None, CSV_TASK or None, "
            f"max_rows={limits.MAX_CSV_ROWS}, max_columns={limits.MAX_CSV_COLUMNS}, max_classes={limits.MAX_CLASSES}, "
            f"max_cell_chars={limits.MAX_CSV_CELL_CHARS})\n"
            '    return table["X"], table["y"], table["features"], table["classes"], table["rows"]\n'
        )
    else:
        row = registry.DATASETS[data.dataset]
        generator = datasets.GENERATORS[data.dataset]
        columns = ", ".join(registry.FEATURES[f].code for f in data.features)
        classes = tuple(f"class {i}" for i in range(row.classes)) if task == "classification" else ()
        body = (
            "# The playground's own generator, copied from playground/builder/datasets.py.\n"
            + _source(generator) + "\n\n"
            "def load_all():\n"
            '    """The input features of each point, the targets, their names, the classes and each row\'s index."""\n'
            f"    points, y = {generator.__name__}({code_of('samples', data.n_samples)}, {code_of('noise', data.noise)}, "
            "seed=DATA_SEED)\n"
            "    x1, x2 = points[:, 0], points[:, 1]\n"
            f"    X = torch.stack([{columns}], dim=1).to(torch.float32)\n"
            f"    return X, y, {tuple(data.features)!r}, {classes!r}, torch.arange(len(y))\n"
        )
    split = (
        "# The split and the standardisation, copied from playground/builder/datasets.py.\n"
        + "\n\n".join(_source(f) for f in SPLIT_FUNCTIONS) + "\n\n"
        "class MyDataset(Dataset):\n"
        '    """The course\'s Dataset: data prepared in __init__, one sample from __getitem__, the size from __len__."""\n\n'
        "    def __init__(self, X, y):\n"
        "        self.X = X  # float32 [n, features]\n"
        "        self.y = y  # int64 class indices (classification) or float32 [n, 1] (regression)\n\n"
        "    def __getitem__(self, index):\n"
        "        return self.X[index], self.y[index]\n\n"
        "    def __len__(self):\n"
        "        return len(self.y)\n\n\n"
        + ("def make_datasets(path=CSV_NAME):\n" if data.dataset == CSV_DATASET else "def make_datasets():\n")
        + '    """Train, validation and test sets, standardised with the training split\'s statistics."""\n'
        + ("    X, y, feature_names, classes, rows = load_all(path)\n" if data.dataset == CSV_DATASET
           else "    X, y, feature_names, classes, rows = load_all()\n")
        + f"    train_idx, val_idx, test_idx = split_indices(len(y), {code_of('train', data.train_fraction)}, "
        f"{code_of('val', data.val_fraction)}, seed=DATA_SEED)\n"
        "    stats = fit_standardization(X[train_idx]) if STANDARDIZE else None\n"
        "    X = standardize(X, stats)\n"
        "    target_stats = None\n"
        '    if TASK == "regression":\n'
        "        y = y.reshape(-1, 1)  # MSELoss compares [n, 1] outputs with [n, 1] targets\n"
        + ("        if STANDARDIZE_TARGET:\n"
           "            target_stats = fit_target_standardization(y[train_idx])\n"
           '            y = (y - target_stats["mean"]) / target_stats["std"]\n' if task == "regression" else "")
        + "    sets = [MyDataset(X[idx], y[idx]) for idx in (train_idx, val_idx, test_idx)]\n"
        "    return sets, stats, target_stats, feature_names, classes\n"
    )
    return "\n".join(head) + "\n\n\n" + body + "\n\n" + split


def loaders_block(train: TrainConfig, indent: str = "") -> str:
    lines = [
        "g = torch.Generator().manual_seed(SEED)  # drives the shuffling, epoch after epoch",
        f"train_loader = DataLoader(train_set, {code_of('batch', train.batch_size)}, {code_of('shuffle', train.shuffle)}, "
        "generator=g)",
        "# Evaluation loaders get a generator of their own, so evaluating never moves the global RNG (dropout's).",
        f"val_loader = DataLoader(val_set, batch_size={EVAL_BATCH}, generator=torch.Generator())",
        f"train_eval_loader = DataLoader(train_set, batch_size={EVAL_BATCH}, generator=torch.Generator())",
        f"test_loader = DataLoader(test_set, batch_size={EVAL_BATCH}, generator=torch.Generator())",
    ]
    return "".join(indent + line + "\n" for line in lines)


def model_block(spec: ModelSpec) -> str:
    """``class Net``: the layers in ``self.layers``, as the playground's ``build_model`` builds them."""
    lines = []
    width = spec.in_features
    for hidden, activation in zip(spec.hidden, spec.activations, strict=True):
        lines.append(f"nn.Linear({width}, {hidden}),  # weight [{hidden}, {width}], bias [{hidden}]")
        code = registry.ACTIVATIONS[activation].code
        if code:
            lines.append(f"{code},")
        if spec.dropout > 0:
            lines.append(f"{code_of('dropout', spec.dropout)},")
        width = hidden
    out = "logits: CrossEntropyLoss applies log-softmax" if spec.task == "classification" else "one value"
    lines.append(f"nn.Linear({width}, {spec.out_features}),  # {out}")
    return (
        "class Net(nn.Module):\n"
        '    """The model: __init__ defines the layers, forward computes the output."""\n\n'
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.layers = nn.Sequential(\n" + "".join(f"            {line}\n" for line in lines) + "        )\n\n"
        "    def forward(self, x):\n"
        "        return self.layers(x)\n"
    )


def loss_optimizer_block(config: RunConfig, indent: str = "    ") -> str:
    train = config.train
    loss = registry.resolve_loss(train.loss, config.model.task)
    row = registry.OPTIMIZERS[train.optimizer]
    arguments = ", ".join(f"{keyword}={code_literal(value)}" for keyword, value in optimizer_arguments(train).items())
    fused = ", fused=FUSED" if row.fused else ""
    lines = [f"criterion = nn.{loss.module.__name__}()  # {loss.help}"]
    if row.fused:
        lines.append('FUSED = device.type in ("cpu", "cuda")  # one update for all parameters at once: same algorithm, faster')
    lines.append(f"optimizer = torch.optim.{row.torch_class}(model.parameters(), {arguments}{fused})")
    return "".join(indent + line + "\n" for line in lines)


def loops_block(config: RunConfig) -> str:
    train = config.train
    regularization = train.regularization if train.reg_rate > 0 else "none"
    if regularization != "none":
        term = registry.REGULARIZATIONS[regularization].term
        backward = (f"        penalty = {code_literal(train.reg_rate)} * sum({term} for w in weights)  # {regularization.upper()}\n"
                    "        (loss + penalty).backward()  # the penalty trains the weights; the reported loss is the data's\n")
    else:
        backward = "        loss.backward()\n"
    return (
        "def train_one_epoch(model, loader, criterion, optimizer, device, recorder=None):\n"
        "    model.train()\n"
        "    weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]  # regularised (not biases)\n"
        "    total = 0.0\n"
        "    for x, y in loader:\n"
        "        x, y = x.to(device), y.to(device)\n"
        "        optimizer.zero_grad()\n"
        "        loss = criterion(model(x), y)\n"
        "        if not math.isfinite(loss.item()):\n"
        '            raise FloatingPointError("the loss is not finite: lower the learning rate")\n'
        + backward +
        "        if recorder is not None:  # --layer-stats: each layer's gradient norm, before the step uses it\n"
        "            recorder.after_backward()\n"
        "        optimizer.step()\n"
        "        total += loss.item() * len(x)\n"
        "    return total / len(loader.dataset)\n\n\n"
        "def evaluate(model, loader, criterion, device):\n"
        '    """Loss (and accuracy) over a whole set: model.eval(), no gradients, weighted by batch size."""\n'
        "    model.eval()\n"
        "    total, correct = 0.0, 0\n"
        "    with torch.no_grad():\n"
        "        for x, y in loader:\n"
        "            x, y = x.to(device), y.to(device)\n"
        "            out = model(x)\n"
        "            total += criterion(out, y).item() * x.size(0)\n"
        '            if TASK == "classification":\n'
        "                correct += int((out.argmax(1) == y).sum().item())\n"
        "    n = len(loader.dataset)\n"
        "    if n == 0:\n"
        '        return float("nan"), None\n'
        '    return total / n, (correct / n if TASK == "classification" else None)\n\n\n'
        "def predict(model, loader, device):\n"
        '    """Testing as the course does it: eval mode, no gradients, predictions moved back to the CPU."""\n'
        "    model.eval()\n"
        "    outputs = []\n"
        "    with torch.no_grad():\n"
        "        for x, _ in loader:\n"
        "            outputs.append(model(x.to(device)).cpu())\n"
        "    return torch.cat(outputs) if outputs else torch.empty(0)\n"
    )


def test_report_block(indent: str = "    ") -> str:
    """The test figures the page shows: accuracy, or MSE and MAE in the target's own units."""
    lines = [
        'if TASK == "classification":',
        "    truth = test_set.y",
        "    accuracy = (outputs.argmax(1) == truth).float().mean().item()",
        '    print(f"test accuracy {accuracy:.4f} on {len(truth)} rows")',
        "else:",
        "    truth = test_set.y",
        "    if target_stats:  # back from the standardised scale to the target's own units",
        '        outputs = outputs * target_stats["std"] + target_stats["mean"]',
        '        truth = truth * target_stats["std"] + target_stats["mean"]',
        "    mse = ((outputs.double() - truth.double()) ** 2).mean().item()",
        "    mae = (outputs.double() - truth.double()).abs().mean().item()",
        '    print(f"test MSE {mse:.6g}  test MAE {mae:.6g} on {len(truth)} rows")',
    ]
    return "".join(indent + line + "\n" for line in lines)


# ------------------------------------------------------------------------------------------------ panels


def data_code(config: RunConfig) -> str:
    """The Dataset and DataLoader panel, runnable as shown: it prints the split sizes and one batch."""
    return (
        imports(config, model=False) + "\n"
        + data_block(config) + "\n\n"
        + "(train_set, val_set, test_set), stats, target_stats, feature_names, classes = make_datasets()\n"
        + 'print("rows:", len(train_set), len(val_set), len(test_set))\n'
        + code_of("seed", config.train.seed) + "\n"
        + loaders_block(config.train)
        + "x, y = next(iter(train_loader))\n"
        + 'print("one batch: x", list(x.shape), x.dtype, "y", list(y.shape), y.dtype)\n'
        + 'print(len(train_loader), "batches an epoch")\n'
    )


def model_code(config: RunConfig) -> str:
    """The model panel, runnable as shown: the class, the initial weights of the run's seed, its printout."""
    return (
        "import torch\nfrom torch import nn\n\n\n"
        + model_block(config.model) + "\n\n"
        + code_of("seed", config.train.seed) + "\n"
        + "torch.manual_seed(SEED)  # the run's initial weights come from its seed\n"
        + "model = Net()\n"
        + "print(model)\n"
        + 'print(sum(p.numel() for p in model.parameters()), "parameters")\n'
    )


def load_code(config: RunConfig, weights_file: str) -> str:
    """Load the downloaded ``.pt`` into the page's model and test it, runnable beside the file (and the CSV)."""
    return (
        imports(config) + "\n"
        + data_block(config) + "\n\n"
        + model_block(config.model) + "\n\n"
        + "model = Net()\n"
        + f"model.load_state_dict(torch.load({weights_file!r}, weights_only=True))  # the file downloaded from the page\n"
        + "model.eval()\n"
        + "(train_set, val_set, test_set), stats, target_stats, feature_names, classes = make_datasets()\n"
        + "with torch.no_grad():\n"
        + "    outputs = model(test_set.X)  # predictions for the held-out test rows\n"
        + test_report_block(indent="")
    )


def weights_code(spec: ModelSpec, stem: str) -> str:
    """How the spec JSON says to load its downloads: the page's ``class Net`` (its layers in ``self.layers``, so the
    keys are ``layers.0.weight``, ...) and a strict ``load_state_dict`` of ``{stem}.pt``, runnable beside the file
    with torch alone; the commented line, in place of ``torch.load``'s, loads ``{stem}.safetensors`` instead."""
    return (
        "import torch\nfrom torch import nn\n\n\n"
        + model_block(spec) + "\n\n"
        + "model = Net()\n"
        + f"state_dict = torch.load({stem + '.pt'!r}, weights_only=True, map_location='cpu')\n"
        + "# or from the .safetensors (pip install safetensors): this line in place of the one above\n"
        + f"# from safetensors.torch import load_file; state_dict = load_file({stem + '.safetensors'!r})\n"
        + "model.load_state_dict(state_dict)  # strict: every key and every shape must match\n"
        + "model.eval()\n"
    )


def script(config: RunConfig) -> str:
    """The whole ``train.py``: run it with ``python train.py`` (``--epochs``, ``--device``, ``--csv``)."""
    data, train = config.data, config.train
    csv = data.dataset == CSV_DATASET
    settings = textwrap.indent(_describe(config), "    ")
    return (
        '"""Reproduce a PyTorch Playground run with plain PyTorch.\n\n'
        "    python train.py                 # train as the playground did, save model.pt\n"
        "    python train.py --epochs 5      # fewer epochs\n"
        "    python train.py --device cpu    # where to train (the same device reproduces the same numbers)\n"
        + ("    python train.py --csv data.csv  # the CSV to train on\n" if csv else "")
        + "\nThe setup it reproduces:\n" + settings + '"""\n\n'
        + imports(config, script=True) + "\n"
        + code_of("seed", train.seed) + "  # the initial weights and the shuffling\n"
        + code_of("epochs", train.epochs) + "\n"
        + code_of("device", train.device) + "\n"
        + code_of("keep_best", train.keep_best) + "  # early stopping: keep the best validation epoch\n"
        + code_of("patience", train.patience) + "\n"
        + code_of("lr_changes", train.lr_changes) + "  # epochs done -> the rate set then, changed while it trained\n\n\n"
        "# ---------------------------------------------------------------------------------------------------\n"
        "# Reproducibility\n"
        "# ---------------------------------------------------------------------------------------------------\n"
        + seed_block(train) + "\n\n"
        "# ---------------------------------------------------------------------------------------------------\n"
        "# Data\n"
        "# ---------------------------------------------------------------------------------------------------\n"
        + data_block(config, script=True) + "\n\n"
        "# ---------------------------------------------------------------------------------------------------\n"
        "# Model\n"
        "# ---------------------------------------------------------------------------------------------------\n"
        + model_block(config.model) + "\n\n"
        "# ---------------------------------------------------------------------------------------------------\n"
        "# Training, validation, testing\n"
        "# ---------------------------------------------------------------------------------------------------\n"
        + loops_block(config) + "\n\n"
        "# ---------------------------------------------------------------------------------------------------\n"
        "# Inside the layers (only with --layer-stats)\n"
        "# ---------------------------------------------------------------------------------------------------\n"
        + layer_stats_block() + "\n\n"
        + _main(config)
    )


def layer_stats_block() -> str:
    """What ``--layer-stats`` prints: each Linear layer's figures every epoch, from the playground's own functions
    (``layer_stats.py``), so they are the page's "Inside the layers" numbers for the same run."""
    relu = ", ".join(f"nn.{kind.__name__}" for kind in layer_stats.RELU_FAMILY)
    return (
        "# The playground's per-layer figures, copied from playground/builder/layer_stats.py: a histogram and\n"
        "# quantiles of the weights and biases, the weight gradient's norm over the epoch's steps, how far the\n"
        "# epoch moved the weights (update ratio) and, before a ReLU, the share of units that never fired.\n"
        f"DIGITS = {layer_stats.DIGITS}  # significant digits kept\n"
        f"BINS = {layer_stats.BINS}  # histogram bins\n"
        f"QUANTILES = {layer_stats.QUANTILES!r}  # TensorBoard's distribution bands\n"
        f"GRAD_QUANTILES = {layer_stats.GRAD_QUANTILES!r}\n"
        f"ROWS = {layer_stats.ROWS}  # training rows the dead-unit pass reads\n"
        "DIST = BINS + 2 + len(QUANTILES)  # counts, lo, hi, quantiles\n"
        "GRAD = 2 + len(GRAD_QUANTILES) + 1  # mean, last, quantiles, steps\n"
        f"RELU_FAMILY = ({relu})\n\n\n"
        + "\n\n".join(_source(f) for f in LAYER_STATS_FUNCTIONS) + "\n\n"
        "class LayerStats:\n"
        '    """Records an epoch\'s gradient norms step by step and summarises each Linear layer after it."""\n\n'
        "    def __init__(self, model, X):\n"
        "        named = {id(m): name for name, m in model.named_modules()}\n"
        "        self.model = model\n"
        "        self.layers = [m for m in model.modules() if isinstance(m, nn.Linear)]\n"
        "        self.names = [named[id(m)] for m in self.layers]\n"
        "        self.relu = followed_by_relu(model)\n"
        "        self.X = X[:ROWS]\n\n"
        "    def start_epoch(self):\n"
        "        self.start = [m.weight.detach().clone() for m in self.layers]\n"
        "        self.norms = []\n\n"
        "    def after_backward(self):\n"
        "        self.norms.append(torch.stack([torch.linalg.vector_norm(m.weight.grad) for m in self.layers]))\n\n"
        "    @torch.no_grad()\n"
        "    def summary(self):\n"
        "        norms = torch.stack(self.norms).float().cpu() if self.norms else None  # [steps, layers]\n"
        "        fired = fired_units(self.model.layers, self.X, self.relu)\n"
        "        return model_figures(self.layers, self.names, self.start, norms, fired)\n"
    )


def _describe(config: RunConfig) -> str:
    """The setup in a docstring: each setting that applies, as the registry labels it (user text made safe)."""
    values = config.values()
    lines = []
    for setting in registry.SETTINGS:
        if setting.shown(values) and (config.data.dataset == CSV_DATASET or not setting.name.startswith("csv")):
            lines.append(f"{setting.label}: {_comment(setting.format(values[setting.name]))}")
    lines.append(f"model: {' -> '.join(str(w) for w in config.model.widths)} ({config.model.task})")
    return "\n".join(lines).replace("\\", "/").replace('"""', "'''") + "\n"


def _main(config: RunConfig) -> str:
    csv = config.data.dataset == CSV_DATASET
    return (
        "def main():\n"
        "    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])\n"
        '    parser.add_argument("--epochs", type=int, default=EPOCHS)\n'
        '    parser.add_argument("--device", default=DEVICE if not DEVICE.startswith("cuda") or torch.cuda.is_available() '
        'else "cpu")\n'
        '    parser.add_argument("--out", default="model.pt", help="where to save the state_dict")\n'
        '    parser.add_argument("--history", default=None, help="also write the per-epoch metrics to this JSON file")\n'
        '    parser.add_argument("--layer-stats", action="store_true",\n'
        '                        help="print each layer\'s figures every epoch, one JSON line a layer (and keep them in --history)")\n'
        + ('    parser.add_argument("--csv", default=CSV_NAME, help="the CSV file the run was trained on")\n' if csv else "")
        + "    args = parser.parse_args()\n"
        "    device = torch.device(args.device)\n\n"
        "    seed_everything(SEED)\n"
        + ("    (train_set, val_set, test_set), stats, target_stats, feature_names, classes = make_datasets(args.csv)\n"
           if csv else
           "    (train_set, val_set, test_set), stats, target_stats, feature_names, classes = make_datasets()\n")
        + loaders_block(config.train, indent="    ") + "\n"
        "    torch.manual_seed(SEED)  # the initial weights come from this seed\n"
        "    model = Net().to(device)\n"
        + loss_optimizer_block(config)
        + "    recorder = LayerStats(model, train_set.X.to(device)) if args.layer_stats else None\n\n"
        "    history, best = [], {\"loss\": math.inf, \"epoch\": 0, \"state\": None}\n"
        "    for epoch in range(1, args.epochs + 1):\n"
        "        if epoch - 1 in LR_CHANGES:  # the learning rate was changed here while the run trained\n"
        "            for group in optimizer.param_groups:\n"
        '                group["lr"] = LR_CHANGES[epoch - 1]\n'
        "        if recorder is not None:\n"
        "            recorder.start_epoch()\n"
        "        train_loss = train_one_epoch(model, train_loader, criterion, optimizer, device, recorder)\n"
        "        val_loss, val_acc = evaluate(model, val_loader, criterion, device)\n"
        '        row = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss}\n'
        '        if TASK == "classification":\n'
        '            row["train_acc"] = evaluate(model, train_eval_loader, criterion, device)[1]\n'
        '            row["val_acc"] = val_acc\n'
        "        history.append(row)\n"
        '        print(f"epoch {epoch:4d}  train loss {train_loss:.6f}  validation loss {val_loss:.6f}")\n'
        "        if recorder is not None:\n"
        '            row["layers"] = recorder.summary()\n'
        '            for layer in row["layers"]:\n'
        '                print("layer", json.dumps({"epoch": epoch, **layer}))\n'
        "        if KEEP_BEST and len(val_set):\n"
        '            if val_loss < best["loss"]:\n'
        '                best = {"loss": val_loss, "epoch": epoch, "state": copy.deepcopy(model.state_dict())}\n'
        '            elif epoch - best["epoch"] >= PATIENCE:\n'
        '                print(f"stopped early: no better validation loss for {PATIENCE} epochs")\n'
        "                break\n"
        '    if KEEP_BEST and best["state"] is not None:\n'
        '        model.load_state_dict(best["state"])  # the best validation epoch\'s weights\n'
        '        print(f"kept the weights of epoch {best[\'epoch\']}")\n\n'
        "    outputs = predict(model, test_loader, device)\n"
        + test_report_block() + "\n"
        "    torch.save(model.state_dict(), args.out)  # load with model.load_state_dict(torch.load(path, weights_only=True))\n"
        '    print(f"saved the state_dict to {args.out}")\n'
        "    if args.history:\n"
        '        with open(args.history, "w") as handle:\n'
        '            json.dump({"history": history, "standardization": stats, "target_standardization": target_stats,\n'
        '                       "features": list(feature_names)}, handle)\n\n\n'
        'if __name__ == "__main__":\n'
        "    main()\n"
    )
