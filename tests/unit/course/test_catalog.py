"""The course's texts as the project writes its own code."""

from __future__ import annotations

from pathlib import Path


def test_every_torch_load_the_course_shows_loads_weights_only():
    """The course teaches loading as the project does it: no torch.load without weights_only=True, in any text,
    hint or proof (a plain torch.load unpickles whatever the file holds)."""
    from playground.course import catalog

    lines = [line for line in Path(catalog.__file__).read_text().splitlines() if "torch.load(" in line]
    assert lines and all(line.count("torch.load(") == line.count("weights_only=True") for line in lines), lines
