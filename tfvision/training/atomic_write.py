"""Files written beside their destination and renamed over it: a kill never leaves half a file.

A run can be killed at any moment (`kill -9`, a pre-empted machine). Every
file a later run reads back (checkpoints, backups, histories) is therefore
written to a temporary file in the same folder, flushed to disk, and renamed
over its destination with `os.replace`, which is atomic on one file system:
a reader sees the old file or the new one, never a part of either.
"""

import contextlib
import os

PARTIAL_PREFIX = ".partial."


def partial_path(path):
    """The temporary file `atomic_path` writes before renaming it to `path`.

    It sits in `path`'s folder (so the rename stays on one file system), is
    hidden, and keeps `path`'s extension, which some writers check (Keras
    wants `.keras` and `.weights.h5`).

    Example:
    >>> partial_path("runs/a/last.keras")
    'runs/a/.partial.last.keras'
    """
    folder, name = os.path.split(os.fspath(path))
    return os.path.join(folder, PARTIAL_PREFIX + name)


def _sync(path):
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path to write; renames it over `path` when the block ends.

    For writers that take a path (`model.save`, `save_weights`, `zipfile`).
    The file is flushed to disk before the rename. If the block raises, the
    temporary file is deleted and `path` is left as it was.

    Args:
        path: str or path-like. The destination; its folder must exist.

    Yields:
        str, the temporary path (see `partial_path`).

    Example:
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "state.txt")
    >>> with atomic_path(path) as temporary:
    ...     with open(temporary, "w") as handle:
    ...         _ = handle.write("done")
    >>> open(path).read()
    'done'
    """
    temporary = partial_path(path)
    try:
        yield temporary
        _sync(temporary)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise


@contextlib.contextmanager
def atomic_write(path, mode="w", **open_kwargs):
    """Opens a temporary file for writing; it replaces `path` once the block ends.

    `with atomic_write(path) as handle:` is `with open(path, "w") as handle:`
    except that `path` changes only when the whole file is written (see
    `atomic_path`).

    Args:
        path: str or path-like. The destination; its folder must exist.
        mode: str. A writing mode of `open` (`"w"`, `"wb"`, ...).
            Defaults to `"w"`.
        **open_kwargs: more `open` arguments (`newline`, `encoding`).

    Yields:
        The open file.

    Example:
    >>> import json, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "state.json")
    >>> with atomic_write(path) as handle:
    ...     json.dump({"epoch": 3}, handle)
    >>> json.load(open(path))
    {'epoch': 3}
    """
    with atomic_path(path) as temporary:
        with open(temporary, mode, **open_kwargs) as handle:
            yield handle
