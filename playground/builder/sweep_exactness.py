"""How close a sweep's members are to their single runs, as the engine's check after the first epoch measured it.

``SweepTrainer.exactness()`` reports the member it trained again alone, the steps compared, whether the weights
were the same bit for bit, how far apart they and the losses were, and the path its optimizer's updates took;
``exactness_sentence`` says it in words for the page.
"""

from __future__ import annotations

import math
from typing import Any

import torch

BATCHED, ONE_BY_ONE = "batched form", "torch.optim, member by member"  # the optimizer's paths


def relative_difference(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> float:
    """The largest difference between two sets of weights, relative to the largest weight of that tensor."""
    worst = 0.0
    for key, value in theirs.items():
        scale = float(value.abs().max()) if value.numel() else 0.0
        diff = float((ours[key].float() - value.float()).abs().max()) if value.numel() else 0.0
        worst = max(worst, diff / scale if scale > 0 else (0.0 if diff == 0 else math.inf))
    return worst


def exactness_sentence(report: dict[str, Any] | None) -> str:
    """How close this sweep's members are to their single runs, as the check after the first epoch found it."""
    if not report or not report.get("checked"):
        return ("After its first epoch the sweep trains one member again, alone, as its own single run and compares "
                "the two; what it finds shows here once the sweep ends.")
    who = f"member {report['member'] + 1} ({report['label']})"
    how = ("its optimizer's batched form" if report["optimizer"] == BATCHED
           else "torch.optim itself, one optimizer a member")
    if report["bit_for_bit"]:
        found = f"its weights were its single run's bit for bit after {report['steps']} steps"
    else:
        found = (f"its weights differed from its single run's by at most {report['weights_difference']:.1g} of the "
                 f"largest weight after {report['steps']} steps (batched arithmetic rounds in another order, and "
                 "training can amplify such differences over many epochs)")
    return (f"Checked after the first epoch: {who} was trained again alone, and {found}; its losses agreed to "
            f"{report['loss_difference']:.1g} relative. The updates came from {how}.")
