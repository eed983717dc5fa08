"""The files beside the store: figures exported from it and the report, written so that no reader sees half a file."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``path`` through a uniquely named temporary file in the same folder, then rename it.

    Readers see the old file or the new one, never half of one, and two processes writing the
    same path at once never share a temporary file (the later rename wins). The file gets the
    permissions of any file the user creates (``0666`` less the umask), not the temporary file's ``0600``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.part"
    # created 0666 less the umask, like any file the user makes (tempfile's would be 0600)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_figures(out: Path, experiment: str, key: str,
                  figures: dict[str, dict[str, bytes]]) -> dict[str, dict[str, Path]]:
    """Export a stored run's figures as ``out/figures/<experiment>/<key>/<name>.<format>``; returns their paths.

    Called only once the run is in the store, so that no figure file outlives a failed save.
    """
    folder = out / "figures" / experiment / key
    paths: dict[str, dict[str, Path]] = {}
    for name, formats in figures.items():
        for fmt, data in formats.items():
            path = folder / f"{name}.{fmt}"
            write_atomically(path, data)
            paths.setdefault(name, {})[fmt] = path
    return paths
