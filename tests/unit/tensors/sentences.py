"""What makes a refusal a plain sentence a person can read (the house rule: every error a user can cause becomes a
plain sentence), checked on the text a user sees: it starts with a capital, ends with a full stop, each sentence in
it starts with a capital, and no word is shouted or garbled (a run of capitals that is not a known acronym)."""

from __future__ import annotations

import re

# Acronyms and names a sentence may spell in capitals.
ACRONYMS = {"ASCII", "CSV", "SVG", "JSON", "URL", "CPU", "GPU", "CUDA", "SGD", "MSE", "ReLU", "GELU", "RMSprop",
            "NLL", "PNG", "HTML", "ID", "OK", "API", "UTF", "BCE", "MNIST", "ELU", "SELU", "SiLU", "II", "III"}
# Names from code a sentence may start with as they are written (``cat takes 2 tensors``, ``dim must be ...``).
CODE_WORDS = {"cat", "squeeze", "unsqueeze", "pow", "sum", "mean", "reshape", "view", "dim", "torch", "np", "x"}
_CODE = re.compile(r"`[^`]*`")
_SHOUTED = re.compile(r"[A-Za-z]*[A-Z]{2,}[A-Za-z]*")
_NEXT_SENTENCE = re.compile(r"(?<!e\.g)(?<!i\.e)[.?!]\s+([a-z])")


def problems(sentence: str) -> list[str]:
    """What is wrong with ``sentence`` as a plain sentence (empty when nothing is)."""
    found = []
    if not isinstance(sentence, str) or not sentence.strip():
        return ["no sentence"]
    prose = _CODE.sub("`code`", sentence.strip())
    first = prose[0]
    first_word = re.match(r"[A-Za-z_.]*", prose).group(0)
    if not (first.isupper() or first.isdigit() or first in "`'\"(" or first_word in CODE_WORDS):
        found.append(f"starts with {first!r}, not a capital")
    if prose[-1] not in ".?!" and not prose.endswith(".)"):
        found.append(f"ends with {prose[-1]!r}, not a full stop")
    for match in _NEXT_SENTENCE.finditer(prose):
        found.append(f"a sentence starts in lower case: {prose[max(0, match.start() - 10):match.end() + 10]!r}")
    for word in _SHOUTED.findall(prose):
        if word not in ACRONYMS:
            found.append(f"a shouted or garbled word: {word!r}")
    return found


def assert_plain_sentence(sentence: str) -> None:
    assert not problems(sentence), (sentence, problems(sentence))
