"""The files beside the store: figures exported from it and the report, written so that no reader sees half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``path`` through a uniquely named temporary file in the same folder, then rename it.

    Readers see the old file or the new one, never half of one, and two processes writing the
    same path at once never share a temporary file (the later rename wins). The file gets the
    permissions of any file the user creates (``0666`` less the umask), not the temporary file's ``0600``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


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
