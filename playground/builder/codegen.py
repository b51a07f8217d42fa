"""The PyTorch beside each Model Builder panel: the data, the DataLoader, the model, loss and optimizer,
the training, validation and test loops, seeds and cudnn flags, written for the settings on screen.
"""

from __future__ import annotations

import inspect

from playground.builder import datasets
from playground.builder.config import CSV_DATASET, DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.model import ACTIVATION_MODULES
from playground.builder.training import EVAL_BATCH

_ACTIVATION_CODE = {name: (f"nn.{cls.__name__}()" if cls else None) for name, cls in ACTIVATION_MODULES.items()}
_FEATURE_CODE = {
    "x1": "x1", "x2": "x2", "x1^2": "x1 * x1", "x2^2": "x2 * x2", "x1*x2": "x1 * x2",
    "sin_x1": "torch.sin(x1)", "sin_x2": "torch.sin(x2)",
}


def seed_code(seed: int, train: TrainConfig | None = None) -> str:
    deterministic = train.cudnn_deterministic if train else True
    benchmark = train.cudnn_benchmark if train else False
    return (
        "import random\n\nimport numpy as np\nimport torch\n\n"
        f"seed = {seed}\n"
        "random.seed(seed)\nnp.random.seed(seed)\n"
        "torch.manual_seed(seed)           # CPU and every CUDA device\n"
        "torch.cuda.manual_seed_all(seed)\n"
        f"torch.backends.cudnn.deterministic = {deterministic}  # True: same result every run\n"
        f"torch.backends.cudnn.benchmark = {benchmark}      # True: autotune kernels, faster but not reproducible\n"
    )


def dataset_code(data: DataConfig) -> str:
    """The Dataset class (the course's MyDataset) and how this page's data is made and split."""
    head = (
        "import torch\nfrom torch.utils.data import Dataset\n\n\n"
        "class MyDataset(Dataset):\n"
        "    \"\"\"Reads and prepares the data once; returns one sample at a time.\"\"\"\n\n"
        "    def __init__(self, X, y):\n"
        "        self.X = X  # float32 [n, features]\n"
        "        self.y = y  # int64 class indices (classification) or float32 [n, 1] (regression)\n\n"
        "    def __getitem__(self, index):\n"
        "        return self.X[index], self.y[index]\n\n"
        "    def __len__(self):\n"
        "        return len(self.X)\n\n\n"
    )
    if data.dataset == CSV_DATASET:
        body = (
            "# The CSV is read by playground.builder.datasets.CsvDataset (numeric feature columns, the chosen target).\n"
            f"# target column: {data.csv_target or '(last column)'}, task: {data.csv_task or 'inferred'}\n"
            "import pandas as pd\n"
            f"table = pd.read_csv({data.csv_name or 'data.csv'!r})\n"
        )
    else:
        source = inspect.getsource(datasets.GENERATORS[data.dataset])
        columns = ", ".join(_FEATURE_CODE[f] for f in data.features)
        body = (
            "import math\n\nimport numpy as np\n\n\n" + source + "\n\n"
            f"points, y = {datasets.GENERATORS[data.dataset].__name__}({data.n_samples}, {data.noise}, seed={data.seed})\n"
            "x1, x2 = points[:, 0], points[:, 1]\n"
            f"X = torch.stack([{columns}], dim=1)  # input features {list(data.features)}\n"
        )
        if data.task == "regression":
            body += "y = y.reshape(-1, 1)  # MSELoss wants [n, 1] targets\n"
    n_train, n_val, n_test = datasets.split_sizes(data.n_samples, data.train_fraction, data.val_fraction)
    body += (
        f"order = torch.randperm(len(y), generator=torch.Generator().manual_seed({data.seed}))\n"
        f"train_idx, val_idx, test_idx = order[:{n_train}], order[{n_train}:{n_train + n_val}], order[{n_train + n_val}:]\n"
    )
    if data.standardize:
        body += (
            "mean, std = X[train_idx].mean(0), X[train_idx].std(0, unbiased=False)  # fit on the training split only\n"
            "X = (X - mean) / std\n"
        )
    body += (
        "train_set = MyDataset(X[train_idx], y[train_idx])\n"
        "val_set = MyDataset(X[val_idx], y[val_idx])\n"
        "test_set = MyDataset(X[test_idx], y[test_idx])\n"
        "print(len(train_set), len(val_set), len(test_set))\n"
    )
    return head + body


def dataloader_code(train: TrainConfig) -> str:
    return (
        "from torch.utils.data import DataLoader\n\n"
        "# The course's example: DataLoader(dataset, batch_size=4, shuffle=True)\n"
        f"g = torch.Generator().manual_seed({train.seed})  # the shuffling is seeded too\n"
        f"train_loader = DataLoader(train_set, batch_size={train.batch_size}, shuffle={train.shuffle}, generator=g)\n"
        f"val_loader = DataLoader(val_set, batch_size={EVAL_BATCH})\n"
        f"test_loader = DataLoader(test_set, batch_size={EVAL_BATCH})\n"
        "x, y = next(iter(train_loader))\n"
        "print(x.shape, y.shape, len(train_loader), 'batches an epoch')\n"
    )


def model_code(spec: ModelSpec) -> str:
    lines = []
    width = spec.in_features
    for hidden, activation in zip(spec.hidden, spec.activations, strict=True):
        lines.append(f"            nn.Linear({width}, {hidden}),  # weight [{hidden}, {width}], bias [{hidden}]")
        if _ACTIVATION_CODE[activation]:
            lines.append(f"            {_ACTIVATION_CODE[activation]},")
        if spec.dropout > 0:
            lines.append(f"            nn.Dropout({spec.dropout}),")
        width = hidden
    out = "logits: CrossEntropyLoss applies log-softmax" if spec.task == "classification" else "one value"
    lines.append(f"            nn.Linear({width}, {spec.out_features}),  # {out}")
    return (
        "from torch import nn\n\n\n"
        "class Model(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.layers = nn.Sequential(\n" + "\n".join(lines) + "\n        )\n\n"
        "    def forward(self, x):\n"
        "        return self.layers(x)\n\n\n"
        "model = Model()\n"
        "print(model)\n"
        "print(sum(p.numel() for p in model.parameters()), 'parameters')\n"
    )


def loss_optimizer_code(spec: ModelSpec, train: TrainConfig) -> str:
    criterion = "nn.CrossEntropyLoss()  # takes logits and int64 class indices" if spec.task == "classification" \
        else "nn.MSELoss()  # mean of (output - target)**2"
    if train.optimizer == "sgd":
        opt = (f"torch.optim.SGD(model.parameters(), lr={train.lr:g}, momentum={train.momentum:g}, "
               f"weight_decay={train.weight_decay:g}, fused=True)")
    else:
        opt = (f"torch.optim.Adam(model.parameters(), lr={train.lr:g}, betas=({train.beta1:g}, {train.beta2:g}), "
               f"weight_decay={train.weight_decay:g}, fused=True)")
    return (f"criterion = {criterion}\n"
            "# fused=True: one update for all parameters at once (the same algorithm, faster; CPU and CUDA)\n"
            f"optimizer = {opt}\n")


def training_code(config: RunConfig) -> str:
    train = config.train
    penalty = ""
    if train.regularization != "none" and train.reg_rate > 0:
        term = "w.abs().sum()" if train.regularization == "l1" else "w.pow(2).sum()"
        penalty = (
            f"        weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]\n"
            f"        objective = loss + {train.reg_rate:g} * sum({term} for w in weights)  # {train.regularization.upper()}\n"
        )
    backward = "objective.backward()" if penalty else "loss.backward()"
    accuracy = config.model.task == "classification"
    return (
        f"device = torch.device({train.device!r})  # 'cuda' when torch.cuda.is_available()\n"
        "model.to(device)\n\n\n"
        "def train_one_epoch(model, loader):\n"
        "    model.train()\n"
        "    total = 0.0\n"
        "    for x, y in loader:\n"
        "        x, y = x.to(device), y.to(device)\n"
        "        optimizer.zero_grad()\n"
        "        loss = criterion(model(x), y)\n"
        + penalty +
        f"        {backward}\n"
        "        optimizer.step()\n"
        "        total += loss.item() * x.size(0)\n"
        "    return total / len(loader.dataset)\n\n\n"
        "def validate(model, loader):\n"
        "    model.eval()\n"
        "    total, correct = 0.0, 0\n"
        "    with torch.no_grad():\n"
        "        for x, y in loader:\n"
        "            x, y = x.to(device), y.to(device)\n"
        "            out = model(x)\n"
        "            total += criterion(out, y).item() * x.size(0)\n"
        + ("            correct += (out.argmax(1) == y).sum().item()\n" if accuracy else "") +
        "    return total / len(loader.dataset)" + (", correct / len(loader.dataset)" if accuracy else "") + "\n\n\n"
        f"for epoch in range({train.epochs}):\n"
        "    train_loss = train_one_epoch(model, train_loader)\n"
        "    val = validate(model, val_loader)\n"
        "    print(epoch + 1, train_loss, val)\n"
    )


def test_code(task: str) -> str:
    figures = (
        "accuracy = (predictions.argmax(1) == truth).float().mean()\n"
        "probabilities = torch.softmax(predictions, dim=1)  # Softmax only to show probabilities\n"
        if task == "classification"
        else "mse = ((predictions - truth) ** 2).mean()\nmae = (predictions - truth).abs().mean()\n"
    )
    return (
        "model.eval()\n"
        "outputs, targets = [], []\n"
        "with torch.no_grad():\n"
        "    for x, y in test_loader:\n"
        "        outputs.append(model(x.to(device)).cpu())  # predictions back on the CPU\n"
        "        targets.append(y)\n"
        "predictions, truth = torch.cat(outputs), torch.cat(targets)\n" + figures
    )
