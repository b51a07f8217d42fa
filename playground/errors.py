"""Errors a user can cause, as a plain sentence plus the library's own message."""

from __future__ import annotations

import re


class PlaygroundError(ValueError):
    """A mistake the user can fix.

    ``sentence`` says what went wrong and what to do, in plain words; ``detail`` carries PyTorch's
    (or NumPy's, or the parser's) own message, shown beneath it. ``plain`` marks a sentence that quotes user
    text as it is (a CSV's column names and cells): the page shows it escaped (``as_text``), never as Markdown.
    """

    def __init__(self, sentence: str, detail: str | None = None, plain: bool = False) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.detail = detail
        self.plain = plain

    @property
    def markdown(self) -> str:
        """The sentence as the page shows it through Markdown."""
        return as_text(self.sentence, limit=2_000) if self.plain else self.sentence

    def __str__(self) -> str:
        return self.sentence if not self.detail else f"{self.sentence}\n{self.detail}"


class AwaitingInput(PlaygroundError):
    """Not a mistake: the page waits for something the user has not given yet (a CSV to upload). Pages show it
    as an invitation, not as an error."""


def library_message(exc: BaseException, limit: int = 600) -> str:
    """The first lines of a library exception, trimmed so a huge message cannot flood the page."""
    text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) <= limit else text[:limit] + " ..."


def as_text(text: str, limit: int = 600) -> str:
    """Text shown through Markdown (``st.caption``, ``st.error``) as itself: cut to ``limit``, and every
    character Markdown or HTML would act on escaped, so a message that echoes user input stays text."""
    text = text if len(text) <= limit else text[:limit] + " ..."
    text = re.sub(r"([\\`*_{}\[\]()#!<>|~$&:])", r"\\\1", text)
    text = re.sub(r"(?m)^(\s*)([-+=])", r"\1\\\2", text)  # no lists or headings from line starts
    return re.sub(r"(?m)^(\s*\d+)([.)])", r"\1\\\2", text)


_PLAIN_NAME = re.compile(r"[A-Za-z0-9]+(?:[._][A-Za-z0-9]+)*")


def shown_name(text: str, limit: int = 60) -> str:
    """A name from an untrusted file, safe inside a Markdown sentence: plain when it is only letters,
    digits, dots and single inner underscores (``layers.0.weight``), else as inline code (backticks
    replaced), cut to ``limit`` characters either way."""
    text = text if len(text) <= limit else text[:limit] + "…"
    if _PLAIN_NAME.fullmatch(text):
        return text
    return "`" + "".join(ch if ch.isprintable() and ch != "`" else "'" for ch in text) + "`"
