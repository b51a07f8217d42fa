"""The course's steps in COURSE.md's order, each with a few sentences, the page that teaches it and its exercises.

Every exercise computes its truth with torch (or reads it from the settings registry's rows) when it is made; the
course's own numbers are seed 0. ``proof`` is torch code that asserts the truth, run as shown by a test.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from playground.builder import registry
from playground.course.exercises import (
    CHOICE,
    DTYPE,
    EXPRESSION,
    KEYS,
    ORDER,
    RUN,
    SHAPE,
    VALUES,
    Exercise,
    Instance,
    Text,
    dtype_name,
    literal_text,
    run_lines,
    shape_text,
)

TENSOR_LAB, AUTOGRAD, BUILDER, SWEEPS, RUNS = (
    "app.py", "pages/autograd.py", "pages/model_builder.py", "pages/sweeps.py", "pages/runs.py")


@dataclass(frozen=True)
class Step:
    """One topic of the course: its text, the page that teaches it (with a setup for the Model Builder), and its
    exercises."""

    key: str
    title: Text
    text: Text
    page: str
    link_label: Text
    exercises: tuple[Exercise, ...]
    query: tuple[tuple[str, str], ...] = ()  # the page's query parameters for this step
    lessons: tuple[tuple[str, Text], ...] = ()  # Model Builder lessons (builder/lessons.py) for this step: name, label

    @property
    def query_params(self) -> dict[str, str]:
        return dict(self.query)


def _inst(kind: str, prompt: Text, code: str, truth: Any, shown: str, hint: Text, proof: str, **extra: Any) -> Instance:
    return Instance(exercise_id="", seed=0, kind=kind, prompt=prompt, code=code, truth=truth, shown_truth=shown,
                    hint=hint, proof=proof, **extra)


def _shape_instance(prompt: Text, code: str, result: torch.Tensor, expression: str, hint: Text) -> Instance:
    shape = tuple(result.shape)
    proof = f"import torch\n{code}\nassert list({expression}.shape) == {list(shape)}\nprint({expression}.shape)"
    return _inst(SHAPE, prompt, code, shape, shape_text(shape), hint, proof)


def _values_instance(prompt: Text, code: str, result: Any, expression: str, hint: Text, floats: bool = False,
                     imports: str = "import torch") -> Instance:
    values = result.tolist() if isinstance(result, torch.Tensor) else result
    shown = literal_text(values, floats=floats)
    proof = (f"{imports}\n{code}\nresult = {expression}\n"
             f"assert torch.allclose(torch.as_tensor(result, dtype=torch.float64), "
             f"torch.tensor({literal_text(values)}, dtype=torch.float64), rtol=1e-3, atol=2e-3)\nprint(result)")
    return _inst(VALUES, prompt, code, values, shown, hint, proof, want_float=floats)


def _ints(rng: random.Random, n: int, low: int = -3, high: int = 4) -> list[int]:
    return [rng.randint(low, high) for _ in range(n)]


# ------------------------------------------------------------------------ 1. what PyTorch is


def _grad_dtype(rng: random.Random, course: bool) -> Instance:
    a, b = ([1, 2, 3, 4], [1, 2, 3, 4]) if course else (_ints(rng, 3, 1, 9), _ints(rng, 3, 1, 9))
    candidates = {"float": torch.tensor(a, dtype=torch.float), "long": torch.tensor(b, dtype=torch.long)}
    can = []
    for key, tensor in candidates.items():
        try:
            tensor.requires_grad_()
            can.append(key)
        except RuntimeError:
            pass
    code = f"a = torch.tensor({a}, dtype=torch.float)\nb = torch.tensor({b}, dtype=torch.long)"
    proof = f"import torch\n{code}\na.requires_grad_()\ntry:\n    b.requires_grad_()\n    raise AssertionError('int64 took a gradient')\nexcept RuntimeError as exc:\n    print(exc)"
    return _inst(CHOICE, Text("PyTorch is NumPy-like tensors plus automatic gradients. Which tensor can record "
                              "gradients (requires_grad=True)?",
                              "PyTorch = 类似 NumPy 的张量 + 自动求导。哪个张量可以记录梯度(requires_grad=True)?"),
                 code, tuple(can), "a (float32)",
                 Text("Gradients are about small changes of real numbers: only floating-point (and complex) tensors "
                      "can require grad; an int64 tensor refuses.",
                      "梯度描述实数的微小变化:只有浮点(或复数)张量可以 requires_grad;int64 张量会报错。"),
                 proof, choices=(("float", "a: torch.float"), ("long", "b: torch.long")))


# ------------------------------------------------------------------------ 2. tensors

_TENSOR_HINT = Text("dtype=torch.float makes float32: every number prints with a dot, 1. rather than 1.",
                    "dtype=torch.float 得到 float32:每个数都带小数点,写作 1. 而不是 1。")


def _tensor_float(rng: random.Random, course: bool) -> Instance:
    values = [1, 2, 3, 4] if course else _ints(rng, rng.randint(3, 5), -5, 9)
    code = f"x = torch.tensor({values}, dtype=torch.float)"
    return _values_instance(Text("What does x hold? Write its values as PyTorch prints them.",
                                 "x 里是什么?按 PyTorch 打印的样子写出它的值。"),
                            code, torch.tensor(values, dtype=torch.float), "x", _TENSOR_HINT, floats=True)


def _tensor_dtype(rng: random.Random, course: bool) -> Instance:
    forms = [
        ("x = torch.from_numpy(np.array({v}))", lambda v: torch.from_numpy(np.array(v))),
        ("x = torch.tensor({v})", lambda v: torch.tensor(v)),
        ("x = torch.tensor({v}, dtype=torch.float)", lambda v: torch.tensor(v, dtype=torch.float)),
        ("x = torch.tensor({v}) > 2", lambda v: torch.tensor(v) > 2),
        ("x = torch.tensor({v}) / 2", lambda v: torch.tensor(v) / 2),
    ]
    form, make = forms[0] if course else rng.choice(forms)
    values = [1, 2, 3, 4] if course else _ints(rng, 4, 0, 9)
    code = form.format(v=values)
    dtype = dtype_name(make(values).dtype)
    proof = f"import numpy as np\nimport torch\n{code}\nassert x.dtype == {dtype}\nprint(x.dtype)"
    return _inst(DTYPE, Text("What is x.dtype? (e.g. torch.float32)", "x.dtype 是什么?(例如 torch.float32)"),
                 code, dtype, dtype,
                 Text("Python ints become torch.long (int64), like NumPy's default integers; floats become "
                      "torch.float (float32); a comparison gives torch.bool; true division gives floats.",
                      "Python 整数变成 torch.long(int64),与 NumPy 默认整数相同;浮点数变成 torch.float(float32);"
                      "比较得到 torch.bool;真除法得到浮点数。"),
                 proof)


def _zeros_shape(rng: random.Random, course: bool) -> Instance:
    a, b = (2, 3) if course else (rng.randint(1, 5), rng.randint(1, 5))
    name = "zeros" if course or rng.random() < 0.5 else "ones"
    code = f"x = torch.{name}({a}, {b})"
    return _shape_instance(Text("What is x.shape?", "x.shape 是什么?"), code, getattr(torch, name)(a, b), "x",
                           Text("torch.zeros and torch.ones take the sizes of each dimension, in order.",
                                "torch.zeros 和 torch.ones 按顺序接收每一维的大小。"))


def _squeeze(rng: random.Random, course: bool) -> Instance:
    shape = [1, 2, 3] if course else [rng.randint(2, 4) for _ in range(3)]
    dim = 0 if course else rng.randrange(3)
    if not course:
        shape[dim] = 1
    code = f"x = torch.zeros({', '.join(map(str, shape))})\ny = x.squeeze({dim})"
    return _shape_instance(Text("What is y.shape?", "y.shape 是什么?"), code,
                           torch.zeros(*shape).squeeze(dim), "y",
                           Text(f"squeeze({dim}) removes dimension {dim} when its size is 1; the others stay in order.",
                                f"squeeze({dim}) 在第 {dim} 维大小为 1 时删去它;其余维度顺序不变。"))


def _unsqueeze(rng: random.Random, course: bool) -> Instance:
    shape = [2, 3] if course else [rng.randint(2, 5) for _ in range(rng.randint(1, 3))]
    dim = 1 if course else rng.randint(0, len(shape))
    code = f"x = torch.zeros({', '.join(map(str, shape))})\ny = x.unsqueeze({dim})"
    return _shape_instance(Text("What is y.shape?", "y.shape 是什么?"), code,
                           torch.zeros(*shape).unsqueeze(dim), "y",
                           Text(f"unsqueeze({dim}) inserts a new dimension of size 1 at position {dim} "
                                "(NumPy's np.expand_dims).",
                                f"unsqueeze({dim}) 在位置 {dim} 插入一个大小为 1 的新维度(NumPy 的 np.expand_dims)。"))


def _cat(rng: random.Random, course: bool) -> Instance:
    if course:
        middles, outer, inner = [1, 3, 2], 2, 3
    else:
        middles, outer, inner = [rng.randint(1, 4) for _ in range(rng.randint(2, 3))], rng.randint(1, 4), rng.randint(1, 4)
    names = "abc"[: len(middles)]
    code = "\n".join(f"{n} = torch.zeros({outer}, {m}, {inner})" for n, m in zip(names, middles, strict=True))
    code += f"\ny = torch.cat([{', '.join(names)}], dim=1)"
    result = torch.cat([torch.zeros(outer, m, inner) for m in middles], dim=1)
    return _shape_instance(Text("What is y.shape?", "y.shape 是什么?"), code, result, "y",
                           Text("torch.cat joins along dim=1: the sizes of dimension 1 add up; every other dimension "
                                "must match and stays.",
                                "torch.cat 沿 dim=1 拼接:第 1 维的大小相加;其他维必须相同并保持不变。"))


def _reshape(rng: random.Random, course: bool) -> Instance:
    shape = [2, 6, 3] if course else [rng.randint(1, 4) * 2 for _ in range(3)]
    numel = int(np.prod(shape))
    divisors = [d for d in range(2, 13) if numel % d == 0]
    first = 4 if course else rng.choice(divisors)
    method = "reshape" if course or rng.random() < 0.5 else "view"
    code = f"x = torch.zeros({', '.join(map(str, shape))})\ny = x.{method}({first}, -1)"
    result = getattr(torch.zeros(*shape), method)(first, -1)
    return _shape_instance(Text("What is y.shape?", "y.shape 是什么?"), code, result, "y",
                           Text(f"{method} keeps the number of elements ({numel}); -1 is worked out: "
                                f"{numel} / {first}.",
                                f"{method} 保持元素个数({numel})不变;-1 由 PyTorch 算出:{numel} / {first}。"))


_COURSE_VALUES = [1, 2, 3, 4]


def _pow(rng: random.Random, course: bool) -> Instance:
    values = _COURSE_VALUES if course else _ints(rng, 4, -4, 6)
    exponent = 2 if course else rng.choice([2, 3])
    code = f"x = torch.tensor({values})\ny = x.pow({exponent})"
    return _values_instance(Text("What does y hold?", "y 里是什么?"), code, torch.tensor(values).pow(exponent), "y",
                            Text(f"pow({exponent}) raises every element to the power {exponent}, one by one.",
                                 f"pow({exponent}) 把每个元素分别求 {exponent} 次幂。"))


def _sum(rng: random.Random, course: bool) -> Instance:
    values = _COURSE_VALUES if course else _ints(rng, rng.randint(3, 6), -5, 9)
    code = f"x = torch.tensor({values}, dtype=torch.float)\ny = x.sum()"
    return _values_instance(Text("What is y.item()?", "y.item() 是多少?"), code,
                            torch.tensor(values, dtype=torch.float).sum(), "y",
                            Text("sum() with no dim adds every element into one number.",
                                 "不带 dim 的 sum() 把所有元素加成一个数。"))


def _mean(rng: random.Random, course: bool) -> Instance:
    values = _COURSE_VALUES if course else _ints(rng, rng.randint(2, 5), -5, 9)
    code = f"x = torch.tensor({values}, dtype=torch.float)\ny = x.mean()"
    return _values_instance(Text("What is y.item()?", "y.item() 是多少?"), code,
                            torch.tensor(values, dtype=torch.float).mean(), "y",
                            Text("mean() is the sum divided by the number of elements (it needs a float tensor).",
                                 "mean() 等于总和除以元素个数(需要浮点张量)。"))


# ------------------------------------------------------------------------ 3. PyTorch vs NumPy


def _expand_dims(rng: random.Random, course: bool) -> Instance:
    shape = (2, 3) if course else (rng.randint(2, 4), rng.randint(2, 4))
    axis = 1 if course else rng.randint(0, 2)
    want = np.expand_dims(np.zeros(shape), axis).shape
    x = torch.zeros(*shape)
    calls = {f"unsqueeze({axis})": lambda: x.unsqueeze(axis), "squeeze()": lambda: x.squeeze(),
             "reshape(-1)": lambda: x.reshape(-1), f"unsqueeze({(axis + 1) % 3})": lambda: x.unsqueeze((axis + 1) % 3)}
    truth = tuple(key for key, call in calls.items() if tuple(call().shape) == want)
    code = f"a = np.zeros({shape})\nb = np.expand_dims(a, {axis})  # shape {list(want)}\nx = torch.zeros{shape}"
    proof = (f"import numpy as np\nimport torch\n{code}\nassert x.{truth[0]}.shape == b.shape\n"
             f"print(x.{truth[0]}.shape, b.shape)")
    return _inst(CHOICE, Text(f"Which call on x gives the shape of NumPy's np.expand_dims(a, {axis})?",
                              f"对 x 调用哪个方法得到与 NumPy 的 np.expand_dims(a, {axis}) 相同的形状?"),
                 code, truth, f"x.{truth[0]}",
                 Text("PyTorch's dim is NumPy's axis: np.expand_dims(a, d) is x.unsqueeze(d).",
                      "PyTorch 的 dim 就是 NumPy 的 axis:np.expand_dims(a, d) 对应 x.unsqueeze(d)。"),
                 proof, choices=tuple((key, f"x.{key}") for key in calls))


def _dim_axis(rng: random.Random, course: bool) -> Instance:
    shape = [2, 3] if course else [rng.randint(2, 5) for _ in range(3)]
    dim = 0 if course else rng.randrange(len(shape))
    code = f"x = torch.zeros({', '.join(map(str, shape))})\ny = x.sum(dim={dim})  # NumPy: a.sum(axis={dim})"
    return _shape_instance(Text("What is y.shape?", "y.shape 是什么?"), code, torch.zeros(*shape).sum(dim=dim), "y",
                           Text(f"Summing over dim={dim} (NumPy's axis={dim}) removes that dimension.",
                                f"沿 dim={dim}(NumPy 的 axis={dim})求和会去掉这一维。"))


# ------------------------------------------------------------------------ 4. device


def _device_count(rng: random.Random, course: bool) -> Instance:
    calls = {"is_available": torch.cuda.is_available, "device_count": torch.cuda.device_count}
    truth = tuple(key for key, call in calls.items() if type(call()) is int)
    order = list(calls) if course or rng.random() < 0.5 else list(reversed(calls))
    proof = ("import torch\nassert isinstance(torch.cuda.device_count(), int)\n"
             "assert isinstance(torch.cuda.is_available(), bool)\n"
             "device = 'cuda' if torch.cuda.is_available() else 'cpu'\nx = torch.ones(2).to(device)\nprint(x.device)")
    return _inst(CHOICE, Text("Which call tells how many GPUs PyTorch can use (a number, 0 without a GPU)?",
                              "哪个调用告诉你 PyTorch 能用几块 GPU(一个数,没有 GPU 时为 0)?"),
                 "device = 'cuda' if torch.cuda.is_available() else 'cpu'\nx = x.to(device)", truth,
                 "torch.cuda.device_count()",
                 Text("torch.cuda.is_available() answers yes or no (a bool); torch.cuda.device_count() counts the "
                      "GPUs; x.to('cuda') moves a tensor onto one.",
                      "torch.cuda.is_available() 回答是或否(bool);torch.cuda.device_count() 数出 GPU 的个数;"
                      "x.to('cuda') 把张量移到 GPU 上。"),
                 proof, choices=tuple((key, f"torch.cuda.{key}()") for key in order))


# ------------------------------------------------------------------------ 5. gradient


def _grad_of(text: str, point: list) -> torch.Tensor:
    from playground.autograd.expression import evaluate_text

    x = torch.tensor(point, dtype=torch.float32, requires_grad=True)
    evaluate_text(text, {"x": x}).backward()
    return x.grad


def _grad_instance(point: list, expression: str, hint: Text) -> Instance:
    code = f"x = torch.tensor({literal_text(point, floats=True)}, requires_grad=True)\nz = {expression}\nz.backward()"
    grad = _grad_of(expression, point)
    return _values_instance(Text("Work it out by hand: what is x.grad?", "手算:x.grad 是什么?"), code, grad,
                            "x.grad", hint, floats=True)


def _grad_course(rng: random.Random, course: bool) -> Instance:
    point = [[1, 0], [-1, 1]] if course else [_ints(rng, 2), _ints(rng, 2)]
    return _grad_instance(point, "x.pow(2).sum()",
                          Text("z = Σ x², so dz/dx = 2x, element by element.", "z = Σ x²,所以 dz/dx = 2x,逐元素计算。"))


def _grad_pow3(rng: random.Random, course: bool) -> Instance:
    point = [1, -2, 3] if course else _ints(rng, 3)
    return _grad_instance(point, "x.pow(3).sum()",
                          Text("z = Σ x³, so dz/dx = 3x², element by element.", "z = Σ x³,所以 dz/dx = 3x²,逐元素计算。"))


def _grad_mean(rng: random.Random, course: bool) -> Instance:
    point = _COURSE_VALUES if course else _ints(rng, rng.randint(2, 5))
    n = len(point)
    return _grad_instance(point, "x.pow(2).mean()",
                          Text(f"z = (Σ x²) / {n}, so dz/dx = 2x / {n}.", f"z = (Σ x²) / {n},所以 dz/dx = 2x / {n}。"))


_EXPRESSIONS = ("x.pow(2).sum()", "(3 * x).sum()", "x.pow(3).sum()", "(x * x).mean()", "(x.pow(2) / 2).sum()",
                "(2 * x + x.pow(2)).sum()")


def _expression_instance(point: list, target: str) -> Instance:
    grad = _grad_of(target, point)
    code = f"x = torch.tensor({literal_text(point, floats=True)}, requires_grad=True)"
    proof = (f"import torch\n{code}\nz = {target}\nz.backward()\n"
             f"assert torch.allclose(x.grad, torch.tensor({literal_text(grad.tolist(), floats=True)}))\nprint(x.grad)")
    return _inst(EXPRESSION,
                 Text(f"Write z in x (the Autograd page's grammar: + - * / **, pow, sum, mean, sin, exp, ...) so that "
                      f"z is one number and x.grad after z.backward() is {literal_text(grad.tolist(), floats=True)}.",
                      f"用 x 写出 z(Autograd 页面的语法:+ - * / **、pow、sum、mean、sin、exp……),使 z 是一个数,"
                      f"且 z.backward() 之后 x.grad 为 {literal_text(grad.tolist(), floats=True)}。"),
                 code, grad.tolist(), target,
                 Text("Find a function whose derivative gives these numbers at x: 2x comes from x², a constant c "
                      "from c·x, 3x² from x³; end with .sum() (or .mean(), which divides by the count).",
                      "找一个在 x 处导数等于这些数的函数:2x 来自 x²,常数 c 来自 c·x,3x² 来自 x³;最后用 .sum()"
                      "(或 .mean(),它会除以元素个数)。"),
                 proof, point=point)


def _expression_square(rng: random.Random, course: bool) -> Instance:
    point = [[1, 0], [-1, 1]] if course else [_ints(rng, 2), _ints(rng, 2)]
    return _expression_instance(point, _EXPRESSIONS[0] if course else rng.choice(_EXPRESSIONS[:4]))


def _expression_vector(rng: random.Random, course: bool) -> Instance:
    point = [1, 2, 3] if course else _ints(rng, 3)
    return _expression_instance(point, _EXPRESSIONS[1] if course else rng.choice(_EXPRESSIONS[1:]))


# ------------------------------------------------------------------------ 6. Dataset and DataLoader


def _loader_batches(rng: random.Random, course: bool) -> Instance:
    n, batch = (10, 4) if course else (rng.randint(5, 40), rng.randint(2, 8))
    code = (f"dataset = TensorDataset(torch.zeros({n}, 2), torch.zeros({n}))\n"
            f"loader = DataLoader(dataset, batch_size={batch}, shuffle=True)")
    loader = DataLoader(TensorDataset(torch.zeros(n, 2), torch.zeros(n)), batch_size=batch, shuffle=True)
    return _values_instance(Text("How many batches does one pass over loader give (len(loader))?",
                                 "遍历一次 loader 有多少个批次(len(loader))?"),
                            code, len(loader), "len(loader)",
                            Text(f"{n} samples in batches of {batch}: the last batch holds what is left, so the count "
                                 f"is {n} / {batch} rounded up.",
                                 f"{n} 个样本,每批 {batch} 个:最后一批装剩下的,所以批数是 {n} / {batch} 向上取整。"),
                            imports="import torch\nfrom torch.utils.data import DataLoader, TensorDataset")


def _batch_shape(rng: random.Random, course: bool) -> Instance:
    n, batch, features = (10, 4, 3) if course else (rng.randint(10, 40), rng.randint(2, 8), rng.randint(1, 6))
    code = (f"dataset = TensorDataset(torch.zeros({n}, {features}), torch.zeros({n}))\n"
            f"loader = DataLoader(dataset, batch_size={batch}, shuffle=True)\nx, y = next(iter(loader))")
    loader = DataLoader(TensorDataset(torch.zeros(n, features), torch.zeros(n)), batch_size=batch, shuffle=True)
    x, _ = next(iter(loader))
    instance = _shape_instance(
        Text("What is x.shape for the first batch?", "第一个批次的 x.shape 是什么?"), code, x, "x",
        Text("__getitem__ returns one sample of shape [features]; the DataLoader stacks batch_size of them in a new "
             "first dimension.",
             "__getitem__ 返回一个形状为 [特征数] 的样本;DataLoader 把 batch_size 个样本堆叠成新的第 0 维。"))
    return replace(instance, proof="from torch.utils.data import DataLoader, TensorDataset\n" + instance.proof)


# ------------------------------------------------------------------------ 7. layers


def _linear_sizes(rng: random.Random, course: bool) -> tuple[int, int]:
    return (32, 64) if course else (rng.randint(2, 64), rng.randint(2, 64))


def _linear_weight(rng: random.Random, course: bool) -> Instance:
    n_in, n_out = _linear_sizes(rng, course)
    return _shape_instance(Text("What is layer.weight.shape?", "layer.weight.shape 是什么?"),
                           f"layer = torch.nn.Linear({n_in}, {n_out})", nn.Linear(n_in, n_out).weight, "layer.weight",
                           Text("Linear(in, out) computes x @ weight.T + bias, so weight is [out, in].",
                                "Linear(in, out) 计算 x @ weight.T + bias,所以 weight 的形状是 [out, in]。"))


def _linear_bias(rng: random.Random, course: bool) -> Instance:
    n_in, n_out = _linear_sizes(rng, course)
    return _shape_instance(Text("What is layer.bias.shape?", "layer.bias.shape 是什么?"),
                           f"layer = torch.nn.Linear({n_in}, {n_out})", nn.Linear(n_in, n_out).bias, "layer.bias",
                           Text("One bias per output: bias is [out].", "每个输出一个偏置:bias 的形状是 [out]。"))


def _linear_out(rng: random.Random, course: bool) -> Instance:
    n_in, n_out = _linear_sizes(rng, course)
    batch = 4 if course else rng.randint(1, 16)
    code = f"layer = torch.nn.Linear({n_in}, {n_out})\ny = layer(torch.zeros({batch}, {n_in}))"
    return _shape_instance(Text("What is y.shape?", "y.shape 是什么?"), code, nn.Linear(n_in, n_out)(torch.zeros(batch, n_in)),
                           "y", Text("A Linear layer keeps the batch dimension and turns in features into out features.",
                                     "Linear 层保留批次维度,把 in 个特征变成 out 个特征。"))


# ------------------------------------------------------------------------ 8. activations

# What a task asks of an activation, and a test of it on a probe: the registry rows that pass are the answers.
_PROBE = torch.linspace(-4, 4, 81)
_ACTIVATION_TASKS = (
    ("prob", Text("outputs between 0 and 1, like a probability", "输出在 0 和 1 之间,像概率一样"),
     lambda y: bool(((y > 0) & (y < 1)).all()), "assert ((y > 0) & (y < 1)).all()"),
    ("signed", Text("outputs between -1 and 1, centred on 0", "输出在 -1 和 1 之间,以 0 为中心"),
     lambda y: bool(((y > -1) & (y < 1)).all() and (y < 0).any()), "assert ((y > -1) & (y < 1)).all() and (y < 0).any()"),
    ("cut", Text("0 for every negative input, the input itself otherwise", "负输入输出 0,其余输出输入本身"),
     lambda y: bool(torch.equal(y, torch.where(_PROBE > 0, _PROBE, torch.zeros_like(_PROBE)))),
     "assert torch.equal(y, x.clamp(min=0))"),
)


def _activation_choice(rng: random.Random, course: bool) -> Instance:
    key, want, test, assertion = _ACTIVATION_TASKS[0] if course else rng.choice(_ACTIVATION_TASKS)
    rows = registry.ACTIVATIONS
    truth = tuple(name for name, row in rows.items() if row.module is not None and test(row.module()(_PROBE)))
    if not truth:
        raise AssertionError(f"no activation row passes {key}")
    chosen = rows[truth[0]]
    proof = (f"import torch\nfrom torch import nn\nx = torch.linspace(-4, 4, 81)\ny = nn.{chosen.module.__name__}()(x)\n"
             f"print(y.min().item(), y.max().item())\n{assertion}")
    return _inst(CHOICE, Text(f"Which activation gives {want.en}?", f"哪个激活函数{want.zh}?"), "", truth,
                 chosen.label,
                 Text("Sigmoid squashes to (0, 1), Tanh to (-1, 1), ReLU is max(0, x); LeakyReLU lets a little of "
                      "the negative side through; Linear changes nothing.",
                      "Sigmoid 压缩到 (0, 1),Tanh 压缩到 (-1, 1),ReLU 是 max(0, x);LeakyReLU 让少量负值通过;"
                      "Linear 不做任何变换。"),
                 proof, choices=tuple((name, f"nn.{row.module.__name__}()" if row.module else row.label)
                                      for name, row in rows.items()))


def _relu_values(rng: random.Random, course: bool) -> Instance:
    values = [-2, -1, 0, 1, 2] if course else _ints(rng, 5, -5, 5)
    code = f"x = torch.tensor({values}, dtype=torch.float)\ny = torch.nn.ReLU()(x)"
    return _values_instance(Text("What does y hold?", "y 里是什么?"), code,
                            nn.ReLU()(torch.tensor(values, dtype=torch.float)), "y",
                            Text("ReLU is max(0, x): negatives become 0, the rest stay.", "ReLU 是 max(0, x):负数变 0,其余不变。"))


def _softmax_values(rng: random.Random, course: bool) -> Instance:
    n = 4 if course else rng.randint(2, 5)
    value = 1 if course else rng.randint(-3, 5)
    code = f"x = torch.full(({n},), {float(value)})\ny = torch.nn.Softmax(dim=0)(x)"
    return _values_instance(Text("What does y hold?", "y 里是什么?"), code,
                            nn.Softmax(dim=0)(torch.full((n,), float(value))), "y",
                            Text(f"Softmax is exp(x) / Σ exp(x): equal inputs share 1 equally, 1/{n} each.",
                                 f"Softmax 是 exp(x) / Σ exp(x):相等的输入平分 1,每个 1/{n}。"))


# ------------------------------------------------------------------------ 9. losses

_LOSS_TASKS = (
    ("classification", Text("sort points into classes (the model outputs one logit per class)",
                            "把点分到各个类别(模型为每个类别输出一个 logit)")),
    ("regression", Text("predict a number (the model outputs one value)", "预测一个数(模型输出一个值)")),
)


def _loss_choice(rng: random.Random, course: bool) -> Instance:
    task, words = _LOSS_TASKS[0] if course else rng.choice(_LOSS_TASKS)
    truth = tuple(name for name, row in registry.LOSSES.items() if task in row.tasks)
    proof = ("import torch\nfrom torch import nn\nlogits = torch.tensor([[2.0, 0.5], [0.1, 1.0]])\n"
             "classes = torch.tensor([0, 1])\nprint(nn.CrossEntropyLoss()(logits, classes))\n"
             "print(nn.MSELoss()(torch.tensor([1.0, 2.0]), torch.tensor([1.5, 2.0])))")
    return _inst(CHOICE, Text(f"Which loss fits a model trained to {words.en}?", f"训练模型去{words.zh},该用哪个损失?"),
                 "", truth, " or ".join(registry.LOSSES[name].label for name in truth),
                 Text("CrossEntropyLoss takes logits and int64 class indices (classification); MSELoss, L1Loss and "
                      "HuberLoss compare numbers with numbers (regression).",
                      "CrossEntropyLoss 接收 logits 和 int64 类别索引(分类);MSELoss、L1Loss、HuberLoss 比较数值与数值(回归)。"),
                 proof, choices=tuple((name, f"nn.{row.label}()") for name, row in registry.LOSSES.items()))


def _mse_value(rng: random.Random, course: bool) -> Instance:
    pred, target = ([1, 2, 3], [1, 2, 5]) if course else (_ints(rng, 3), _ints(rng, 3))
    code = (f"loss = torch.nn.MSELoss()(torch.tensor({pred}, dtype=torch.float), "
            f"torch.tensor({target}, dtype=torch.float))")
    value = nn.MSELoss()(torch.tensor(pred, dtype=torch.float), torch.tensor(target, dtype=torch.float))
    return _values_instance(Text("What is loss.item()?", "loss.item() 是多少?"), code, value, "loss",
                            Text("MSELoss is the mean of the squared differences: square each (output - target), "
                                 "then average.",
                                 "MSELoss 是差的平方的平均:把每个 (输出 - 目标) 平方,再求平均。"))


# ------------------------------------------------------------------------ 10. optimizers


def _sgd_step(rng: random.Random, course: bool) -> Instance:
    start, lr = ([1.0, -2.0], 0.1) if course else ([float(v) for v in _ints(rng, 2)], rng.choice([0.1, 0.25, 0.5]))
    code = (f"w = torch.tensor({start}, requires_grad=True)\noptimizer = torch.optim.SGD([w], lr={lr})\n"
            "loss = w.pow(2).sum()\noptimizer.zero_grad()\nloss.backward()\noptimizer.step()")
    w = torch.tensor(start, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=lr)
    w.pow(2).sum().backward()
    optimizer.step()
    return _values_instance(Text("What does w hold after the step?", "这一步之后 w 里是什么?"), code, w.detach(), "w.detach()",
                            Text(f"SGD does w = w - lr * grad; here grad = 2w, so w becomes w - {lr} * 2w.",
                                 f"SGD 执行 w = w - lr * grad;这里 grad = 2w,所以 w 变成 w - {lr} * 2w。"))


def _momentum_steps(rng: random.Random, course: bool) -> Instance:
    g, lr, momentum = (2.0, 0.1, 0.9) if course else (float(rng.randint(1, 4)), rng.choice([0.1, 0.5]), rng.choice([0.5, 0.9]))
    code = (f"w = torch.tensor([0.0], requires_grad=True)\n"
            f"optimizer = torch.optim.SGD([w], lr={lr}, momentum={momentum})\n"
            f"for _ in range(2):\n    optimizer.zero_grad()\n    ({g} * w).sum().backward()\n    optimizer.step()")
    w = torch.tensor([0.0], requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=lr, momentum=momentum)
    for _ in range(2):
        optimizer.zero_grad()
        (g * w).sum().backward()
        optimizer.step()
    return _values_instance(Text("What does w hold after the two steps?", "两步之后 w 里是什么?"), code, w.detach(),
                            "w.detach()",
                            Text(f"The gradient is {g} each step. Momentum keeps a velocity v = {momentum} v + grad and "
                                 f"steps w -= lr * v: first v = {g}, then v = {momentum} * {g} + {g}.",
                                 f"每一步梯度都是 {g}。动量保存速度 v = {momentum} v + grad,并执行 w -= lr * v:"
                                 f"先 v = {g},再 v = {momentum} * {g} + {g}。"))


# ------------------------------------------------------------------------ 11. building a model


def _sequential(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.Sigmoid(), nn.Linear(hidden, n_out))


def _model_sizes(rng: random.Random, course: bool) -> tuple[int, int, int]:
    return (10, 32, 1) if course else (rng.randint(2, 12), rng.randint(2, 32), rng.randint(1, 4))


def _param_count(rng: random.Random, course: bool) -> Instance:
    n_in, hidden, n_out = _model_sizes(rng, course)
    code = (f"model = nn.Sequential(nn.Linear({n_in}, {hidden}), nn.Sigmoid(), nn.Linear({hidden}, {n_out}))\n"
            "count = sum(p.numel() for p in model.parameters())")
    count = sum(p.numel() for p in _sequential(n_in, hidden, n_out).parameters())
    return _values_instance(Text("What is count?", "count 是多少?"), code, count, "count",
                            Text("Each Linear(in, out) has in * out weights and out biases; Sigmoid has none.",
                                 "每个 Linear(in, out) 有 in * out 个权重和 out 个偏置;Sigmoid 没有参数。"),
                            imports="import torch\nfrom torch import nn")


def _model_out_shape(rng: random.Random, course: bool) -> Instance:
    n_in, hidden, n_out = _model_sizes(rng, course)
    batch = 4 if course else rng.randint(1, 16)
    code = (f"model = nn.Sequential(nn.Linear({n_in}, {hidden}), nn.Sigmoid(), nn.Linear({hidden}, {n_out}))\n"
            f"y = model(torch.zeros({batch}, {n_in}))")
    instance = _shape_instance(Text("What is y.shape?", "y.shape 是什么?"), code,
                               _sequential(n_in, hidden, n_out)(torch.zeros(batch, n_in)), "y",
                               Text("forward passes the batch through each layer: the batch stays, the last Linear "
                                    "sets the features.",
                                    "forward 让批次依次通过每一层:批次维度不变,最后一个 Linear 决定特征数。"))
    return replace(instance, proof=instance.proof.replace("import torch\n", "import torch\nfrom torch import nn\n", 1))


# ------------------------------------------------------------------------ 12. training

_TRAIN_LINES = (
    ("optimizer.zero_grad()", lambda ns: ns["optimizer"].zero_grad()),
    ("output = model(x)", lambda ns: ns.__setitem__("output", ns["model"](ns["x"]))),
    ("loss = loss_fn(output, y)", lambda ns: ns.__setitem__("loss", ns["loss_fn"](ns["output"], ns["y"]))),
    ("loss.backward()", lambda ns: ns["loss"].backward()),
    ("optimizer.step()", lambda ns: ns["optimizer"].step()),
)


def _training_namespace() -> dict:
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    for p in model.parameters():
        p.grad = torch.ones_like(p)  # a stale gradient: a step without zero_grad first adds it in
    return {"model": model, "optimizer": torch.optim.SGD(model.parameters(), lr=0.1), "loss_fn": nn.MSELoss(),
            "x": torch.tensor([[1.0, 2.0], [3.0, -1.0]]), "y": torch.tensor([[1.0], [0.0]])}


def _state_after(lines, order) -> dict[str, torch.Tensor] | None:
    """The model's weights after running the lines in ``order``; None when the order cannot run."""
    try:
        namespace = run_lines(lines, order, _training_namespace())
    except (KeyError, RuntimeError):
        return None
    return {k: v.detach().clone() for k, v in namespace["model"].state_dict().items()}


def _shuffled(rng: random.Random, course: bool, count: int, fixed: tuple[int, ...]) -> tuple[int, ...]:
    """A shown order of the lines (never the right one)."""
    order = list(range(count))
    while tuple(order) == tuple(range(count)):
        rng.shuffle(order)
    return fixed if course else tuple(order)


def _order_instance(lines, shown: tuple[int, ...], valid, prompt: Text, hint: Text, proof_head: str,
                    proof_tail: str) -> Instance:
    shown_lines = tuple(lines[i] for i in shown)
    canonical = tuple(shown.index(i) + 1 for i in range(len(lines)))
    code = "\n".join(f"{n}: {text}" for n, (text, _) in enumerate(shown_lines, 1))
    proof = proof_head + "\n".join(text for text, _ in lines) + "\n" + proof_tail
    return _inst(ORDER, prompt, code, canonical, ", ".join(map(str, canonical)), hint, proof,
                 point=(shown_lines, lambda order: valid(shown_lines, order)))


def _train_order(rng: random.Random, course: bool) -> Instance:
    reference = _state_after(_TRAIN_LINES, tuple(range(1, 6)))

    def valid(lines, order) -> bool:
        state = _state_after(lines, order)
        return state is not None and all(torch.equal(state[k], reference[k]) for k in reference)

    shown = _shuffled(rng, course, len(_TRAIN_LINES), (3, 1, 4, 0, 2))
    head = ("import torch\nfrom torch import nn\ntorch.manual_seed(0)\nmodel = nn.Linear(2, 1)\n"
            "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\nloss_fn = nn.MSELoss()\n"
            "x = torch.tensor([[1.0, 2.0], [3.0, -1.0]])\ny = torch.tensor([[1.0], [0.0]])\nbefore = loss_fn(model(x), y).item()\n")
    tail = "after = loss_fn(model(x), y).item()\nassert after < before\nprint(before, after)"
    return _order_instance(_TRAIN_LINES, shown, valid,
                           Text("Put the lines of one training step in order (write their numbers, e.g. 1, 2, 3, 4, 5).",
                                "把一个训练步骤的代码行排好顺序(写出行号,例如 1, 2, 3, 4, 5)。"),
                           Text("Clear the old gradients, run the model forward, compute the loss, backpropagate, then "
                                "let the optimizer step; the app runs your order and compares the weights with a "
                                "correct step.",
                                "先清空旧梯度,前向计算,求损失,反向传播,再让优化器更新;应用按你的顺序运行这些行,"
                                "并与正确的一步比较权重。"),
                           head, tail)


# ------------------------------------------------------------------------ 13. validation


def _val_loss(rng: random.Random, course: bool) -> Instance:
    losses, sizes = ([0.5, 0.2, 0.8], [4, 4, 2]) if course else (
        [rng.choice([0.1, 0.2, 0.4, 0.5, 0.8, 1.0]) for _ in range(3)], [4, 4, rng.randint(1, 3)])
    code = (f"batch_losses = {losses}  # loss.item() of each batch\nbatch_sizes = {sizes}  # x.size(0) of each batch\n"
            "total = sum(l * n for l, n in zip(batch_losses, batch_sizes))\nval_loss = total / sum(batch_sizes)")
    value = (torch.tensor(losses, dtype=torch.float64) * torch.tensor(sizes, dtype=torch.float64)).sum() / sum(sizes)
    return _values_instance(Text("What is val_loss?", "val_loss 是多少?"), code, value.item(), "val_loss",
                            Text("Each batch's loss is a mean over its samples: weight it by x.size(0), add up, and "
                                 "divide by the dataset size (a small last batch counts less).",
                                 "每个批次的损失是样本平均:乘以 x.size(0) 加总,再除以数据集大小(较小的最后一批权重更小)。"))


def _eval_dropout(rng: random.Random, course: bool) -> Instance:
    n, value = (4, 1.0) if course else (rng.randint(2, 5), float(rng.randint(1, 5)))
    code = f"drop = torch.nn.Dropout(0.5)\ndrop.eval()\ny = drop(torch.full(({n},), {value}))"
    drop = nn.Dropout(0.5)
    drop.eval()
    return _values_instance(Text("What does y hold?", "y 里是什么?"), code, drop(torch.full((n,), value)), "y",
                            Text("model.eval() (here drop.eval()) turns dropout off: the input passes unchanged. In "
                                 "training mode it would zero about half and double the rest.",
                                 "model.eval()(这里是 drop.eval())关闭 dropout:输入原样通过。训练模式下它会把约一半置零,"
                                 "其余乘以 2。"),
                            floats=True)


# The one exercise checked from a kept run (playground/course/run_check.py): a Model Builder setup and a mark.
_RUN_TARGETS = (("xor", 0.9), ("circle", 0.9), ("gaussian", 0.9), ("spiral", 0.8))


def builder_link(dataset: str) -> dict[str, str]:
    """The Model Builder's query parameters for a step: the registry's defaults with this dataset."""
    from playground.runs import url_state

    config = url_state.defaults()
    config = replace(config, data=replace(config.data, dataset=dataset))
    return url_state.encode(config)


def _accuracy_run(rng: random.Random, course: bool) -> Instance:
    dataset, mark = _RUN_TARGETS[0] if course else rng.choice(_RUN_TARGETS)
    label = registry.DATASETS[dataset].label
    proof = ("import torch\nfrom torch import nn\nmodel.eval()\ncorrect = 0\nwith torch.no_grad():\n"
             "    for x, y in val_loader:\n        correct += (model(x).argmax(dim=1) == y).sum().item()\n"
             "val_accuracy = correct / len(val_loader.dataset)")
    return _inst(RUN, Text(f"Train a model on the {label} data in the Model Builder (open it with the link) until its "
                           f"validation accuracy is at least {mark:.0%}; keep the run, then check here.",
                           f"在 Model Builder 中用 {label} 数据训练一个模型(用链接打开),直到验证准确率至少为 {mark:.0%};"
                           "保存这次运行,然后在这里检查。"),
                 "", (dataset, mark), f"{mark:.0%}",
                 Text("Give the network room and time: more hidden neurons or a layer, a learning rate near 0.03, more "
                      "epochs; features such as x1*x2 help XOR and x1², x2² help the circle.",
                      "给网络足够的容量和时间:更多隐藏神经元或再加一层,学习率约 0.03,更多轮次;x1*x2 特征有助于 XOR,"
                      "x1²、x2² 有助于圆形数据。"),
                 proof, point=builder_link(dataset))


# ------------------------------------------------------------------------ 14. testing


def _argmax(rng: random.Random, course: bool) -> Instance:
    logits = ([[2.0, 0.5, -1.0], [0.1, 0.3, 0.2]] if course  # distinct values a row: no ties
              else [[float(v) for v in rng.sample(range(-3, 4), 3)] for _ in range(rng.randint(2, 4))])
    code = f"logits = torch.tensor({logits})\npredicted = logits.argmax(dim=1)"
    return _values_instance(Text("What does predicted hold?", "predicted 里是什么?"), code,
                            torch.tensor(logits).argmax(dim=1), "predicted",
                            Text("argmax(dim=1) gives, for each row (sample), the index of its largest logit: the "
                                 "predicted class.",
                                 "argmax(dim=1) 给出每一行(每个样本)最大 logit 的下标:即预测的类别。"))


def _test_accuracy(rng: random.Random, course: bool) -> Instance:
    pred, labels = ([0, 1, 1, 0], [0, 1, 0, 0]) if course else (_ints(rng, 5, 0, 2), _ints(rng, 5, 0, 2))
    code = (f"predicted = torch.tensor({pred})\nlabels = torch.tensor({labels})\n"
            "accuracy = (predicted == labels).float().mean()")
    value = (torch.tensor(pred) == torch.tensor(labels)).float().mean()
    return _values_instance(Text("What is accuracy.item()?", "accuracy.item() 是多少?"), code, value, "accuracy",
                            Text("Count the positions where the prediction equals the label, and divide by the count.",
                                 "数出预测等于标签的位置个数,再除以总数。"))


# ------------------------------------------------------------------------ 15. save and load


def _state_keys(rng: random.Random, course: bool) -> Instance:
    layers = 2 if course else rng.randint(2, 3)
    act = "ReLU" if course else rng.choice(["ReLU", "Sigmoid", "Tanh"])
    parts = []
    modules = []
    for i in range(layers):
        parts.append(f"nn.Linear({4 if i else 2}, {4 if i < layers - 1 else 1})")
        modules.append(nn.Linear(4 if i else 2, 4 if i < layers - 1 else 1))
        if i < layers - 1:
            parts.append(f"nn.{act}()")
            modules.append(getattr(nn, act)())
    code = f"model = nn.Sequential({', '.join(parts)})\ntorch.save(model.state_dict(), 'model.pt')"
    keys = tuple(nn.Sequential(*modules).state_dict().keys())
    proof = (f"import torch\nfrom torch import nn\nmodel = nn.Sequential({', '.join(parts)})\n"
             f"assert list(model.state_dict().keys()) == {list(keys)}\nprint(list(model.state_dict().keys()))")
    return _inst(KEYS, Text("Name the keys of the saved state_dict, in order, separated by commas.",
                            "按顺序写出保存的 state_dict 的键,用逗号分隔。"),
                 code, keys, ", ".join(keys),
                 Text("A state_dict names each parameter by its module's position in the Sequential and its own name "
                      "(weight, bias); activations have no parameters, so their numbers are skipped.",
                      "state_dict 用模块在 Sequential 中的位置加参数名(weight、bias)命名每个参数;激活函数没有参数,"
                      "所以它们的编号被跳过。"),
                 proof)


def _saved_bytes() -> tuple[bytes, dict[str, torch.Tensor]]:
    torch.manual_seed(1)
    source = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    buffer = io.BytesIO()
    torch.save(source.state_dict(), buffer)
    return buffer.getvalue(), source.state_dict()


_LOAD_LINES = (
    ("model = Net()", lambda ns: ns.__setitem__("model", ns["Net"]())),
    ("state = torch.load('model.pt', weights_only=True)", lambda ns: ns.__setitem__("state", torch.load(io.BytesIO(ns["file"]), weights_only=True))),
    ("model.load_state_dict(state)", lambda ns: ns["model"].load_state_dict(ns["state"])),
    ("predictions = model(x)", lambda ns: ns.__setitem__("predictions", ns["model"](ns["x"]))),
)


def _load_order(rng: random.Random, course: bool) -> Instance:
    data, saved = _saved_bytes()
    x = torch.tensor([[1.0, -1.0]])

    def valid(lines, order) -> bool:
        namespace = {"Net": lambda: nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)), "file": data, "x": x}
        try:
            run_lines(lines, order, namespace)
        except (KeyError, RuntimeError):
            return False
        reference = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
        reference.load_state_dict(saved)
        return torch.equal(namespace["predictions"], reference(x))

    shown = _shuffled(rng, course, len(_LOAD_LINES), (2, 0, 3, 1))
    head = ("import os\nimport tempfile\nimport torch\nfrom torch import nn\n\n\ndef Net():\n"
            "    return nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))\n\n\n"
            "os.chdir(tempfile.mkdtemp())\ntrained = Net()\ntorch.save(trained.state_dict(), 'model.pt')\n"
            "x = torch.tensor([[1.0, -1.0]])\n")
    tail = "assert torch.equal(predictions, trained(x))\nprint(predictions)"
    return _order_instance(_LOAD_LINES, shown, valid,
                           Text("You downloaded model.pt (a state_dict). Put the lines that use it in order (their "
                                "numbers, e.g. 1, 2, 3, 4).",
                                "你下载了 model.pt(一个 state_dict)。把使用它的代码行排好顺序(写出行号,例如 1, 2, 3, 4)。"),
                           Text("A state_dict holds only numbers: build the same model first, read the file, load the "
                                "numbers into the model, and only then predict with it.",
                                "state_dict 只保存数值:先构建同样的模型,读取文件,把数值载入模型,然后才能用它预测。"),
                           head, tail)


# ------------------------------------------------------------------------ 16. reproducibility


def _seed_same(rng: random.Random, course: bool) -> Instance:
    first = 0 if course else rng.randint(0, 100)
    second = first if course or rng.random() < 0.5 else first + rng.randint(1, 5)
    torch.manual_seed(first)
    a = torch.rand(3)
    torch.manual_seed(second)
    b = torch.rand(3)
    same = bool(torch.equal(a, b))
    code = f"torch.manual_seed({first})\na = torch.rand(3)\ntorch.manual_seed({second})\nb = torch.rand(3)"
    proof = f"import torch\n{code}\nassert torch.equal(a, b) == {same}\nprint(a, b)"
    return _inst(CHOICE, Text("Is torch.equal(a, b) True or False?", "torch.equal(a, b) 是 True 还是 False?"),
                 code, "yes" if same else "no", "True" if same else "False",
                 Text("The same seed restarts the same random sequence: equal seeds give equal numbers, different "
                      "seeds different ones.",
                      "相同的种子让随机序列从同一处重新开始:种子相同,数字相同;种子不同,数字不同。"),
                 proof, choices=(("yes", "True"), ("no", "False")))


def _cudnn_flags(rng: random.Random, course: bool) -> Instance:
    deterministic = next(s.default for s in registry.SETTINGS if s.name == "deterministic")
    benchmark = next(s.default for s in registry.SETTINGS if s.name == "benchmark")
    choices = tuple((f"{d}-{b}", f"deterministic = {d}, benchmark = {b}") for d in (True, False) for b in (True, False))
    order = list(choices) if course else rng.sample(list(choices), len(choices))
    truth = f"{deterministic}-{benchmark}"
    proof = (f"import torch\ntorch.manual_seed(0)\ntorch.backends.cudnn.deterministic = {deterministic}\n"
             f"torch.backends.cudnn.benchmark = {benchmark}\nprint(torch.backends.cudnn.deterministic, "
             "torch.backends.cudnn.benchmark)")
    return _inst(CHOICE, Text("For runs you can reproduce on a GPU, which cuDNN settings do you choose (with one seed for "
                              "numpy and torch)?",
                              "想在 GPU 上得到可复现的结果(并为 numpy 和 torch 设同一个种子),应选择哪组 cuDNN 设置?"),
                 "", truth, f"deterministic = {deterministic}, benchmark = {benchmark}",
                 Text("deterministic = True picks algorithms that give the same result each time; benchmark = False "
                      "stops cuDNN from timing and picking the fastest one, which may differ from run to run. The "
                      "reverse trades reproducibility for speed.",
                      "deterministic = True 选择每次结果相同的算法;benchmark = False 阻止 cuDNN 测速并挑选最快的算法"
                      "(每次可能不同)。反过来则是用可复现性换速度。"),
                 proof, choices=tuple(order))


# ------------------------------------------------------------------------ the steps


def _ex(exercise_id: str, kind: str, en: str, zh: str, make) -> Exercise:
    return Exercise(exercise_id, kind, Text(en, zh), make)


STEPS: tuple[Step, ...] = (
    Step("what", Text("What PyTorch is", "PyTorch 是什么"),
         Text("PyTorch computes with tensors the way NumPy computes with arrays, runs the same code on a GPU, and "
              "records what you compute so that it can give you gradients automatically (autograd).",
              "PyTorch 像 NumPy 处理数组一样处理张量,同样的代码可以在 GPU 上运行,并记录你的计算,从而自动给出梯度(autograd)。"),
         TENSOR_LAB, Text("Open the Tensor Lab", "打开 Tensor Lab"),
         (_ex("grad-dtype", CHOICE, "Which tensors take gradients", "哪些张量能求梯度", _grad_dtype),)),
    Step("tensors", Text("Tensors, dtypes and shape operations", "张量、dtype 与形状操作"),
         Text("A tensor is a high-dimensional array. Common dtypes are torch.float (float32) and torch.long (int64); "
              "PyTorch's dim is NumPy's axis. torch.tensor([1, 2, 3, 4], dtype=torch.float) gives "
              "tensor([1., 2., 3., 4.]); torch.from_numpy(np.array([1, 2, 3, 4])) shares NumPy's memory; torch.zeros(2, 3) "
              "and torch.ones(2, 3) make filled tensors. squeeze(0) turns shape [1, 2, 3] into [2, 3]; unsqueeze(1) turns "
              "[2, 3] into [2, 1, 3]; torch.cat of [2, 1, 3], [2, 3, 3] and [2, 2, 3] along dim 1 gives [2, 6, 3]. For "
              "[1, 2, 3, 4], pow(2) gives [1, 4, 9, 16], sum() gives 10 and mean() gives 2.5.",
              "张量是高维数组。常用 dtype 有 torch.float(float32)和 torch.long(int64);PyTorch 的 dim 就是 NumPy 的 axis。"
              "torch.tensor([1, 2, 3, 4], dtype=torch.float) 得到 tensor([1., 2., 3., 4.]);"
              "torch.from_numpy(np.array([1, 2, 3, 4])) 与 NumPy 共享内存;torch.zeros(2, 3) 和 torch.ones(2, 3) 生成填充好的张量。"
              "squeeze(0) 把形状 [1, 2, 3] 变成 [2, 3];unsqueeze(1) 把 [2, 3] 变成 [2, 1, 3];"
              "沿 dim 1 拼接 [2, 1, 3]、[2, 3, 3] 和 [2, 2, 3] 得到 [2, 6, 3]。对 [1, 2, 3, 4],pow(2) 得到 [1, 4, 9, 16],"
              "sum() 得到 10,mean() 得到 2.5。"),
         TENSOR_LAB, Text("Try each operation in the Tensor Lab", "在 Tensor Lab 中试试每个操作"),
         (_ex("tensor-float", VALUES, "A float tensor's values", "浮点张量的值", _tensor_float),
          _ex("tensor-dtype", DTYPE, "Predict a dtype", "预测 dtype", _tensor_dtype),
          _ex("zeros-shape", SHAPE, "Shape of zeros/ones", "zeros/ones 的形状", _zeros_shape),
          _ex("squeeze", SHAPE, "squeeze", "squeeze", _squeeze),
          _ex("unsqueeze", SHAPE, "unsqueeze", "unsqueeze", _unsqueeze),
          _ex("cat", SHAPE, "torch.cat", "torch.cat", _cat),
          _ex("reshape", SHAPE, "reshape and view", "reshape 与 view", _reshape),
          _ex("pow", VALUES, "pow", "pow", _pow),
          _ex("sum", VALUES, "sum", "sum", _sum),
          _ex("mean", VALUES, "mean", "mean", _mean))),
    Step("numpy", Text("PyTorch and NumPy", "PyTorch 与 NumPy"),
         Text("Most names match: x.shape, x.dtype, x.reshape() (or x.view()) and x.squeeze() are the same in both. "
              "x.unsqueeze(1) is np.expand_dims(x, 1), and a dim argument is NumPy's axis.",
              "大多数名字相同:x.shape、x.dtype、x.reshape()(或 x.view())和 x.squeeze() 两边一样。"
              "x.unsqueeze(1) 对应 np.expand_dims(x, 1),dim 参数就是 NumPy 的 axis。"),
         TENSOR_LAB, Text("Compare torch and NumPy side by side", "并排比较 torch 与 NumPy"),
         (_ex("expand-dims", CHOICE, "np.expand_dims in torch", "torch 中的 np.expand_dims", _expand_dims),
          _ex("dim-axis", SHAPE, "dim is axis", "dim 就是 axis", _dim_axis))),
    Step("device", Text("Devices", "设备"),
         Text("torch.cuda.is_available() says whether there is a GPU, torch.cuda.device_count() how many, and "
              "x.to('cuda') moves a tensor (or a model) onto one. Tensors of one computation must be on the same device.",
              "torch.cuda.is_available() 告诉你有没有 GPU,torch.cuda.device_count() 告诉你有几块,x.to('cuda') "
              "把张量(或模型)移到 GPU 上。同一次计算中的张量必须在同一设备上。"),
         TENSOR_LAB, Text("See the devices in the Tensor Lab", "在 Tensor Lab 中查看设备"),
         (_ex("device-count", CHOICE, "Counting GPUs", "数 GPU", _device_count),)),
    Step("gradient", Text("Gradients", "梯度"),
         Text("Create x = torch.tensor([[1., 0.], [-1., 1.]], requires_grad=True), compute z = x.pow(2).sum() and call "
              "z.backward(): x.grad is then [[2., 0.], [-2., 2.]], the derivative 2x at every element.",
              "创建 x = torch.tensor([[1., 0.], [-1., 1.]], requires_grad=True),计算 z = x.pow(2).sum() 并调用 "
              "z.backward():x.grad 就是 [[2., 0.], [-2., 2.]],即每个元素处的导数 2x。"),
         AUTOGRAD, Text("Open the graph in Autograd", "在 Autograd 中查看计算图"),
         (_ex("grad-course", VALUES, "The course's gradient", "课程中的梯度", _grad_course),
          _ex("grad-pow3", VALUES, "Gradient of a cube", "立方的梯度", _grad_pow3),
          _ex("grad-mean", VALUES, "Gradient of a mean", "平均值的梯度", _grad_mean),
          _ex("expr-square", EXPRESSION, "An expression for a gradient", "写出给定梯度的表达式", _expression_square),
          _ex("expr-vector", EXPRESSION, "Another expression for a gradient", "再写一个给定梯度的表达式",
              _expression_vector))),
    Step("data", Text("Dataset and DataLoader", "Dataset 与 DataLoader"),
         Text("A Dataset subclass reads and prepares the data in __init__, returns one sample from __getitem__ and "
              "its size from __len__. DataLoader(dataset, batch_size=4, shuffle=True) groups the samples into "
              "shuffled batches of 4.",
              "Dataset 子类在 __init__ 中读取并预处理数据,__getitem__ 返回一个样本,__len__ 返回数据集大小。"
              "DataLoader(dataset, batch_size=4, shuffle=True) 把样本打乱并分成每批 4 个。"),
         BUILDER, Text("See the DataLoader tab in the Model Builder", "在 Model Builder 的 DataLoader 页签中查看"),
         (_ex("loader-batches", VALUES, "How many batches", "有多少批", _loader_batches),
          _ex("batch-shape", SHAPE, "A batch's shape", "一个批次的形状", _batch_shape)),
         query=tuple(builder_link("circle").items())),
    Step("layers", Text("Layers", "层"),
         Text("torch.nn.Linear(32, 64) maps 32 input features to 64 outputs: its weight has shape [64, 32] and its "
              "bias shape [64].",
              "torch.nn.Linear(32, 64) 把 32 个输入特征映射为 64 个输出:weight 的形状是 [64, 32],bias 的形状是 [64]。"),
         BUILDER, Text("See the layers in the Model Builder", "在 Model Builder 中查看各层"),
         (_ex("linear-weight", SHAPE, "Linear's weight", "Linear 的 weight", _linear_weight),
          _ex("linear-bias", SHAPE, "Linear's bias", "Linear 的 bias", _linear_bias),
          _ex("linear-out", SHAPE, "Linear's output", "Linear 的输出", _linear_out)),
         query=tuple(builder_link("circle").items())),
    Step("activations", Text("Activations", "激活函数"),
         Text("nn.ReLU(), nn.Sigmoid(), nn.Tanh() and nn.Softmax() bend a layer's output; without them, stacked Linear "
              "layers are one Linear layer.",
              "nn.ReLU()、nn.Sigmoid()、nn.Tanh() 和 nn.Softmax() 让层的输出弯曲;没有它们,叠起来的 Linear 层只相当于一个 Linear 层。"),
         AUTOGRAD, Text("Plot activations in Autograd", "在 Autograd 中画出激活函数"),
         (_ex("activation-choice", CHOICE, "Choose an activation", "选择激活函数", _activation_choice),
          _ex("relu-values", VALUES, "ReLU's values", "ReLU 的值", _relu_values),
          _ex("softmax-values", VALUES, "Softmax's values", "Softmax 的值", _softmax_values))),
    Step("losses", Text("Losses", "损失函数"),
         Text("nn.MSELoss() measures how far numbers are from their targets (regression); nn.CrossEntropyLoss() "
              "compares class logits with class indices (classification).",
              "nn.MSELoss() 衡量数值与目标的距离(回归);nn.CrossEntropyLoss() 比较类别 logits 与类别索引(分类)。"),
         BUILDER, Text("Pick a loss in the Model Builder", "在 Model Builder 中选择损失函数"),
         (_ex("loss-choice", CHOICE, "Choose a loss", "选择损失函数", _loss_choice),
          _ex("mse-value", VALUES, "An MSE by hand", "手算 MSE", _mse_value)),
         query=tuple(builder_link("plane").items())),
    Step("optimizers", Text("Optimizers", "优化器"),
         Text("torch.optim.SGD(params, lr, momentum) and torch.optim.Adam(params, lr) change the weights from their "
              "gradients, one optimizer.step() at a time.",
              "torch.optim.SGD(params, lr, momentum) 和 torch.optim.Adam(params, lr) 根据梯度更新权重,每次 optimizer.step() 一步。"),
         AUTOGRAD, Text("Race optimizers in Autograd", "在 Autograd 中比较优化器"),
         (_ex("sgd-step", VALUES, "One SGD step", "一步 SGD", _sgd_step),
          _ex("momentum-steps", VALUES, "Two steps with momentum", "带动量的两步", _momentum_steps))),
    Step("model", Text("Building a model", "构建模型"),
         Text("An nn.Module defines its layers in __init__ (for example nn.Sequential of Linear(10, 32), Sigmoid() and "
              "Linear(32, 1)) and computes its output in forward.",
              "nn.Module 在 __init__ 中定义各层(例如由 Linear(10, 32)、Sigmoid() 和 Linear(32, 1) 组成的 nn.Sequential),"
              "在 forward 中计算输出。"),
         BUILDER, Text("Build a model in the Model Builder", "在 Model Builder 中构建模型"),
         (_ex("param-count", VALUES, "Count the parameters", "数参数", _param_count),
          _ex("model-out-shape", SHAPE, "The model's output shape", "模型输出的形状", _model_out_shape)),
         query=tuple(builder_link("circle").items())),
    Step("training", Text("The training loop", "训练循环"),
         Text("Move the model to the device; each epoch call model.train(); for each batch move x and y to the device, "
              "call optimizer.zero_grad(), run the model forward, compute the loss, call loss.backward() and "
              "optimizer.step().",
              "把模型移到设备上;每个 epoch 调用 model.train();对每个批次把 x、y 移到设备上,调用 optimizer.zero_grad(),"
              "前向计算,求损失,调用 loss.backward() 和 optimizer.step()。"),
         BUILDER, Text("Train live in the Model Builder", "在 Model Builder 中实时训练"),
         (_ex("train-order", ORDER, "Order a training step", "排列训练步骤", _train_order),),
         query=tuple(builder_link("xor").items()),
         lessons=(("vanishing", Text("Lesson: vanishing gradients", "课程:梯度消失")),
                  ("exploding", Text("Lesson: exploding updates", "课程:更新爆炸")),
                  ("dead_relu", Text("Lesson: dead ReLUs", "课程:死亡的 ReLU")))),
    Step("validation", Text("Validation", "验证"),
         Text("Call model.eval(); under torch.no_grad() compute each batch's loss, add up loss.item() * x.size(0) and "
              "divide by the dataset's size.",
              "调用 model.eval();在 torch.no_grad() 下计算每个批次的损失,累加 loss.item() * x.size(0),再除以数据集大小。"),
         BUILDER, Text("Watch the validation curve in the Model Builder", "在 Model Builder 中观察验证曲线"),
         (_ex("val-loss", VALUES, "The validation loss", "验证损失", _val_loss),
          _ex("eval-dropout", VALUES, "Dropout in eval mode", "eval 模式下的 Dropout", _eval_dropout),
          _ex("accuracy-run", RUN, "Reach a validation accuracy", "达到验证准确率", _accuracy_run)),
         query=tuple(builder_link("xor").items())),
    Step("testing", Text("Testing", "测试"),
         Text("Call model.eval(); under torch.no_grad() collect the predictions batch by batch, moved back to the CPU, "
              "and compare them with the labels.",
              "调用 model.eval();在 torch.no_grad() 下逐批收集预测结果并移回 CPU,再与标签比较。"),
         BUILDER, Text("See the Test tab in the Model Builder", "在 Model Builder 的 Test 页签中查看"),
         (_ex("argmax", VALUES, "Predicted classes", "预测的类别", _argmax),
          _ex("test-accuracy", VALUES, "Test accuracy", "测试准确率", _test_accuracy)),
         query=tuple(builder_link("spiral3").items())),
    Step("save", Text("Save and load", "保存与加载"),
         Text("torch.save(model.state_dict(), path) writes the weights; model.load_state_dict(torch.load(path, weights_only=True)) puts "
              "them back into a model built the same way.",
              "torch.save(model.state_dict(), path) 保存权重;model.load_state_dict(torch.load(path, weights_only=True)) 把它们载入一个"
              "以同样方式构建的模型。"),
         RUNS, Text("Download a kept run's weights", "下载已保存运行的权重"),
         (_ex("state-keys", KEYS, "Name the keys", "写出键名", _state_keys),
          _ex("load-order", ORDER, "Load a downloaded state_dict", "加载下载的 state_dict", _load_order))),
    Step("seeds", Text("Reproducibility", "可复现性"),
         Text("Seed numpy and torch (and every CUDA device) with one number, and set "
              "torch.backends.cudnn.deterministic = True and torch.backends.cudnn.benchmark = False; the reverse trades "
              "reproducibility for speed.",
              "用同一个数为 numpy 和 torch(以及所有 CUDA 设备)设种子,并设置 torch.backends.cudnn.deterministic = True 和 "
              "torch.backends.cudnn.benchmark = False;反过来则是用可复现性换速度。"),
         BUILDER, Text("Set the seed in the Model Builder", "在 Model Builder 中设置种子"),
         (_ex("seed-same", CHOICE, "Same seed, same numbers", "相同种子,相同数字", _seed_same),
          _ex("cudnn-flags", CHOICE, "cuDNN settings", "cuDNN 设置", _cudnn_flags)),
         query=tuple(builder_link("circle").items())),
)

EXERCISES: dict[str, Exercise] = {ex.exercise_id: ex for step in STEPS for ex in step.exercises}
STEP_OF: dict[str, Step] = {ex.exercise_id: step for step in STEPS for ex in step.exercises}
STEPS_BY_KEY: dict[str, Step] = {step.key: step for step in STEPS}
