"""Two-view sample lists on disk: a CSV or JSON manifest (never pickle).

CSV: a header `view0_path,view1_path,label`, then one sample per row; an
empty label marks an unlabelled sample. JSON: either a list of
`{"view0_path": ..., "view1_path": ..., "label": ...}` objects, or
`{"class_names": [...], "samples": [...]}` with such objects (a `null` or
empty label is unlabelled). Labels are class names. Paths are relative to the
data root (by default the manifest's folder) and must stay inside it.
"""

import csv
import json
import os

from tfvision.data.views.samples import two_view_files

COLUMNS = ("view0_path", "view1_path", "label")


def _read_rows(path):
    extension = os.path.splitext(path)[1].lower()
    if extension == ".csv":
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(
                    f"{path}: the header must name the columns {', '.join(COLUMNS)}; "
                    f"missing {missing}. Received: header={reader.fieldnames}"
                )
            rows = []
            for line, row in enumerate(reader, start=2):
                if None in row or any(row[c] is None for c in COLUMNS):
                    raise ValueError(f"{path}, line {line}: expected {len(COLUMNS)} columns "
                                     f"({', '.join(COLUMNS)}). Received: {row}")
                rows.append((line, row))
            return rows, None
    if extension == ".json":
        try:
            with open(path, encoding="utf-8") as handle:
                content = json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON: {error}") from error
        class_names = None
        if isinstance(content, dict):
            class_names = content.get("class_names")
            content = content.get("samples")
        if not isinstance(content, list):
            raise ValueError(f"{path}: expected a list of samples or an object with a "
                             "'samples' list.")
        rows = []
        for number, row in enumerate(content):
            if not isinstance(row, dict) or any(c not in row for c in COLUMNS[:2]):
                raise ValueError(f"{path}, sample {number}: expected an object with "
                                 f"{', '.join(COLUMNS)}. Received: {row!r}")
            rows.append((f"sample {number}", row))
        return rows, class_names
    raise ValueError(f"A two-view manifest must be a .csv or .json file. Received: path={path}")


def read_two_view_manifest(path, data_root=None, class_names=None, strict=False):
    """Reads a CSV or JSON two-view manifest into `TwoViewSamples`.

    Args:
        path: str. The manifest.
        data_root: str. Folder the paths are relative to and must stay in.
            Defaults to the manifest's folder.
        class_names: optional list of str fixing the class ids. Defaults to
            the JSON's `class_names`, else the sorted labels found.
        strict: bool. Raise at the first undecodable image instead of
            skipping its sample with a warning. Defaults to `False`.

    Returns:
        A `TwoViewSamples` of file paths.

    Raises:
        FileNotFoundError: no manifest, or an image it names is missing.
        ValueError: bad format, a path outside `data_root`, an unknown label.

    Example:
    >>> samples = read_two_view_manifest("data/two_view/manifest.csv")
    >>> samples.labels.tolist(), samples.class_names
    ([2, 4, 3, 0, 5, 0, 1, 1], ['circle', 'cross', 'ring', 'square', 'star', 'triangle'])
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No two-view manifest at {path}.")
    rows, listed_names = _read_rows(path)
    if not rows:
        raise ValueError(f"{path} lists no samples.")
    names = [None if row.get("label") in (None, "") else str(row["label"]).strip()
             for _, row in rows]
    class_names = class_names or listed_names or sorted({n for n in names if n is not None})
    class_names = [str(name) for name in class_names]
    ids = {name: i for i, name in enumerate(class_names)}
    for (where, _), name in zip(rows, names):
        if name is not None and name not in ids:
            raise ValueError(f"{path}, {'line ' if isinstance(where, int) else ''}{where}: "
                             f"unknown label {name!r}; expected one of {class_names}.")
    return two_view_files(
        [str(row["view0_path"]) for _, row in rows],
        [str(row["view1_path"]) for _, row in rows],
        [-1 if name is None else ids[name] for name in names],
        class_names,
        data_root=data_root or os.path.dirname(os.path.abspath(path)),
        strict=strict,
        origin=path,
    )


def write_two_view_manifest(path, paths0, paths1, labels, class_names):
    """Writes a CSV (`.csv`) or JSON (`.json`) manifest that `read_two_view_manifest` reads.

    Args:
        path: str. Destination.
        paths0: list of str. View-0 paths, relative to the manifest's folder.
        paths1: list of str. View-1 paths.
        labels: list of int. Class ids, `-1` for unlabelled (written empty).
        class_names: list of str.
    """
    names = ["" if int(label) < 0 else class_names[int(label)] for label in labels]
    rows = [dict(zip(COLUMNS, row)) for row in zip(paths0, paths1, names)]
    if path.endswith(".json"):
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"class_names": list(class_names), "samples": rows}, handle, indent=1)
    elif path.endswith(".csv"):
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    else:
        raise ValueError(f"A two-view manifest must be a .csv or .json file. Received: path={path}")
