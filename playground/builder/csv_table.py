"""The one CSV reader: an uploaded table read with pandas, checked, and turned into features and a target.

``read_table`` and its helpers use only ``io``, ``math``, ``warnings``, ``numpy``, ``pandas`` and ``torch`` and take
their limits as arguments, so ``train.py`` carries a copy of this very code (``inspect.getsource``) and
reads the CSV exactly as the app did. Limits are enforced while reading: the bytes before parsing, the
header's columns before the body is parsed, the rows by reading at most one more than allowed, the length
of every cell. Feature columns are the numeric columns other than the target; text columns are left out.
"""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
import pandas as pd
import torch


class CsvProblem(ValueError):
    """A CSV the reader refuses, with a sentence a person can act on."""


def read_table(raw, target=None, task=None, max_rows=100_000, max_columns=100, max_classes=20, max_cell_chars=10_000):
    """Read CSV bytes into ``{"X", "y", "features", "classes", "task", "target", "columns", "ignored", "rows"}``.

    ``X`` is float32 [n, features]; ``y`` int64 class indices (classes are the target's distinct values,
    numbers in numeric order, else text in sorted order) or float32 values (regression); ``rows`` is each
    row's position in the table (0 = the first data row). ``task`` is inferred when not given: text or a
    few whole numbers (at most 10 distinct) mean classes, other numbers mean regression.
    """
    header = read_header(raw, max_columns, max_cell_chars)
    try:
        text = bytes(raw).decode("utf-8-sig")  # a byte-order mark (Excel) is dropped
    except UnicodeDecodeError:
        text = bytes(raw).decode("latin-1")
    if len(header) < 2:
        raise CsvProblem("The CSV needs at least two columns: one or more features and a target.")
    if len(set(header)) != len(header) or any(not name for name in header):
        raise CsvProblem("Every column needs a name of its own in the header row.")
    try:  # numbers are parsed into arrays as they are read; at most one row more than allowed is read
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)  # a row longer than the header
            frame = pd.read_csv(io.StringIO(text), sep=_separator(text), header=0, names=list(header),
                                index_col=False, keep_default_na=False, na_values=[""], skipinitialspace=True,
                                skip_blank_lines=True, nrows=max_rows + 1, engine="c")
    except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
        message = str(exc)
        if ("Expected" in message and "fields" in message) or "does not match" in message:
            raise CsvProblem("A row has more cells than the header has columns; make every row the same length.") from None
        raise CsvProblem("The CSV could not be read: a cell is too long or a quote is not closed.") from None
    if len(frame) > max_rows:  # counted before rows of blanks are dropped: they must not hide the rows past them
        raise CsvProblem(f"The CSV has more than {max_rows:,} rows; at most {max_rows:,} are allowed.")
    frame = frame.dropna(how="all").reset_index(drop=True)  # rows of blanks are not data
    if len(frame) == 0:
        raise CsvProblem("The CSV has a header but no data rows; add rows of numbers below the header.")
    for name in frame.columns:
        if frame[name].dtype.kind not in "biuf":
            longest = frame[name].astype(str).str.len().max()
            if longest > max_cell_chars:
                raise CsvProblem(f"The CSV could not be read: a cell is too long ({longest:,} characters; at most "
                                 f"{max_cell_chars:,}).")
    target = target or header[-1]
    if target not in header:
        raise CsvProblem(f"There is no column {target!r}; choose the target from the header.")

    def numbers(column):
        """The column as float64 and where it holds finite numbers; text cells become NaN."""
        if column.dtype.kind in "biuf":
            values = column.to_numpy(dtype="float64")
        else:
            values = np.array(pd.to_numeric(column.astype(str).str.strip(), errors="coerce"), dtype="float64")
            values[column.isna().to_numpy()] = math.nan
        return values, np.isfinite(values)

    def cell(column, row):
        value = column.iloc[row]
        return "an empty cell" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)[:40]

    blank = np.flatnonzero(frame[target].isna().to_numpy())
    if len(blank):
        raise CsvProblem(f"Row {blank[0] + 1}, column {target!r} (the target) is empty; fill it or remove the row.")
    features, ignored, columns = [], [], []
    for name in header:
        if name == target:
            continue
        values, ok = numbers(frame[name])
        if not ok.any() and frame[name].dtype.kind not in "biuf":
            ignored.append(name)  # a text column: left out
            continue
        if not ok.all():
            bad = int(np.flatnonzero(~ok)[0])
            raise CsvProblem(f"Row {bad + 1}, column {name!r} is not a number ({cell(frame[name], bad)!r}): fill in the "
                             "missing value or remove the row.")
        features.append(name)
        columns.append(values)
    if not features:
        raise CsvProblem("The CSV has no numeric feature columns besides the target; the model needs numbers as inputs.")
    values, ok = numbers(frame[target])
    texts = frame[target].astype(str).str.strip()
    if task is None:
        distinct = set(values[ok].tolist())
        whole = len(distinct) <= 10 and all(float(v).is_integer() for v in distinct)
        task = "classification" if not ok.all() or whole else "regression"
    if task == "regression":
        if not ok.all():
            bad = int(np.flatnonzero(~ok)[0])
            raise CsvProblem(f"The target {target!r} has text ({cell(frame[target], bad)!r} in row {bad + 1}), so it "
                             "cannot be a regression target; choose classification or a numeric column.")
        classes = ()
        y = torch.tensor(values, dtype=torch.float32)
    elif task == "classification":
        if ok.all():
            keys = sorted(set(values.tolist()))
            names = [f"{k:g}" for k in keys]
            index = {k: i for i, k in enumerate(keys)}
            labels = [index[v] for v in values.tolist()]
        else:
            names = sorted(set(texts.tolist()))
            index = {k: i for i, k in enumerate(names)}
            labels = [index[c] for c in texts.tolist()]
        if len(names) < 2:
            raise CsvProblem(f"The target {target!r} has only one class ({names[0][:40]!r}); a classifier needs at least "
                             "two.")
        if len(names) > max_classes:
            raise CsvProblem(f"The target {target!r} has {len(names)} distinct values; at most {max_classes} classes are "
                             "allowed. If it is a quantity, choose regression.")
        classes = tuple(names)
        y = torch.tensor(labels, dtype=torch.int64)
    else:
        raise CsvProblem("The task must be classification or regression.")
    X = torch.tensor(np.stack(columns, axis=1), dtype=torch.float32)
    if not bool(torch.isfinite(X).all()):
        raise CsvProblem("A number in the CSV is too large for float32 (above about 3.4e38).")
    return {"X": X, "y": y, "features": tuple(features), "classes": classes, "task": task, "target": target,
            "columns": tuple(header), "ignored": tuple(ignored), "rows": torch.arange(len(frame))}


def _separator(text):
    """The delimiter of a CSV: whichever of comma, semicolon and tab its first lines hold most."""
    lines = [line for line in text[:200_000].splitlines()[:20] if line.strip()]
    counts = {sep: sum(line.count(sep) for line in lines) for sep in (",", ";", "\t")}
    return max(counts, key=lambda s: counts[s]) if any(counts.values()) else ","


def read_header(raw, max_columns=100, max_cell_chars=10_000):
    """The column names of a CSV (for the target picker), checked as ``read_table`` checks them."""
    try:
        text = bytes(raw[:1_000_000]).decode("utf-8-sig")
    except UnicodeDecodeError:
        text = bytes(raw[:1_000_000]).decode("latin-1")
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if not lines:
        raise CsvProblem("The CSV is empty: it needs a header row and at least one row of data.")
    sep = _separator(text)
    if lines[0].count(sep) + 1 > max_columns:
        raise CsvProblem(f"The CSV has {lines[0].count(sep) + 1:,} columns; at most {max_columns} are allowed.")
    try:
        row = pd.read_csv(io.StringIO(lines[0]), sep=sep, header=None, dtype=str, keep_default_na=False,
                          na_filter=False, engine="c").iloc[0]
    except (pd.errors.ParserError, pd.errors.EmptyDataError):
        raise CsvProblem("The CSV could not be read: a cell is too long or a quote is not closed.") from None
    names = tuple(str(name).strip() for name in row)
    if any(len(name) > max_cell_chars for name in names):
        raise CsvProblem("The CSV could not be read: a cell is too long in the header row.")
    return names
