"""The results store: one SQLite file, one transaction per run.

A run's key is a hash of the experiment name, version, canonical config and
seeds. Its arrays are kept as one ``.npz`` blob, its verdicts in their own table
(so ``deeplimits runs`` and ``list`` need no arrays), its figures as PNG and SVG
bytes (so a report can be rendered from the store alone). Everything of a run is
written in a single transaction: a run killed half-way leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from deeplimits.experiment import ArmResults, Results, Verdict

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    version INTEGER NOT NULL,
    profile TEXT NOT NULL,
    config TEXT NOT NULL,
    seeds TEXT NOT NULL,
    created TEXT NOT NULL,
    wall_s REAL NOT NULL,
    provenance TEXT NOT NULL,
    results BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS verdicts (
    run_key TEXT NOT NULL REFERENCES runs(key) ON DELETE CASCADE,
    claim_id TEXT NOT NULL,
    status TEXT NOT NULL,
    quantity TEXT NOT NULL,
    estimate REAL, low REAL, high REAL,
    n_seeds INTEGER NOT NULL,
    rule TEXT NOT NULL,
    detail TEXT NOT NULL,
    n_diverged INTEGER NOT NULL DEFAULT 0,
    notes TEXT NOT NULL DEFAULT '',
    budget TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_key, claim_id)
);
CREATE TABLE IF NOT EXISTS figures (
    run_key TEXT NOT NULL REFERENCES runs(key) ON DELETE CASCADE,
    name TEXT NOT NULL,
    format TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_key, name, format)
);
"""

# verdict columns added after the first release: a store written before them gains them
ADDED_VERDICT_COLUMNS = {"n_diverged": "INTEGER NOT NULL DEFAULT 0", "notes": "TEXT NOT NULL DEFAULT ''",
                         "budget": "TEXT NOT NULL DEFAULT ''"}


def run_key(experiment: str, version: int, config: dict[str, Any], seeds: tuple[int, ...]) -> str:
    canonical = json.dumps({"experiment": experiment, "version": version, "config": config,
                            "seeds": list(seeds)}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def pack_results(results: Results) -> bytes:
    arrays: dict[str, np.ndarray] = {}
    for arm, r in results.arms.items():
        arrays[f"arm/{arm}/steps"] = r.steps
        arrays[f"arm/{arm}/wall_s"] = np.array(r.wall_s)
        if r.diverged is not None:
            arrays[f"arm/{arm}/diverged"] = r.diverged
        arrays.update({f"arm/{arm}/curve/{k}": v for k, v in r.curves.items()})
        arrays.update({f"arm/{arm}/final/{k}": v for k, v in r.final.items()})
    arrays.update({f"diag/{k}": v for k, v in results.diagnostics.items()})
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def unpack_results(blob: bytes, *, experiment: str, version: int, config: dict[str, Any],
                   seeds: tuple[int, ...], wall_s: float) -> Results:
    arms: dict[str, ArmResults] = {}
    diagnostics: dict[str, np.ndarray] = {}
    with np.load(io.BytesIO(blob)) as data:
        for name in data.files:
            kind, _, rest = name.partition("/")
            if kind == "diag":
                diagnostics[rest] = data[name]
                continue
            arm, _, field = rest.partition("/")
            r = arms.setdefault(arm, ArmResults(steps=np.empty(0)))
            if field == "steps":
                r.steps = data[name]
            elif field == "wall_s":
                r.wall_s = float(data[name])
            elif field == "diverged":
                r.diverged = data[name]
            else:
                group, _, metric = field.partition("/")
                (r.curves if group == "curve" else r.final)[metric] = data[name]
    return Results(experiment=experiment, version=version, config=config, seeds=seeds,
                   arms=arms, diagnostics=diagnostics, wall_s=wall_s)


@dataclass(frozen=True)
class StoredRun:
    key: str
    experiment: str
    version: int
    profile: str
    config: dict[str, Any]
    seeds: tuple[int, ...]
    created: str
    wall_s: float
    provenance: dict[str, Any]
    verdicts: tuple[Verdict, ...]


class Store:
    """The SQLite file ``<directory>/deeplimits.sqlite``."""

    FILENAME = "deeplimits.sqlite"

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / self.FILENAME

    def _connect(self) -> sqlite3.Connection:
        self.directory.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.executescript(SCHEMA)
        have = {row[1] for row in connection.execute("PRAGMA table_info(verdicts)")}
        with connection:
            for column, declaration in ADDED_VERDICT_COLUMNS.items():
                if column not in have:
                    connection.execute(f"ALTER TABLE verdicts ADD COLUMN {column} {declaration}")
        return connection

    def save(self, *, key: str, profile: str, results: Results, verdicts: list[Verdict],
             figures: dict[str, dict[str, bytes]], created: str, provenance: dict[str, Any]) -> None:
        """Write a whole run in one transaction (replacing a run with the same key)."""
        connection = self._connect()
        try:
            with connection:
                connection.execute("DELETE FROM runs WHERE key = ?", (key,))
                connection.execute(
                    "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, results.experiment, results.version, profile,
                     json.dumps(results.config, sort_keys=True), json.dumps(list(results.seeds)),
                     created, results.wall_s, json.dumps(provenance, sort_keys=True),
                     pack_results(results)))
                connection.executemany(
                    "INSERT INTO verdicts (run_key, claim_id, status, quantity, estimate, low, high, n_seeds, "
                    "rule, detail, n_diverged, notes, budget) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(key, v.claim_id, v.status, v.quantity, v.estimate, v.low, v.high,
                      v.n_seeds, v.rule, v.detail, v.n_diverged, v.notes, v.budget) for v in verdicts])
                connection.executemany(
                    "INSERT INTO figures VALUES (?, ?, ?, ?)",
                    [(key, name, fmt, data) for name, formats in figures.items()
                     for fmt, data in formats.items()])
        finally:
            connection.close()

    def _rows(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        if not self.path.exists():
            return []
        connection = self._connect()
        connection.row_factory = sqlite3.Row
        try:
            return connection.execute(sql, args).fetchall()
        finally:
            connection.close()

    def _stored(self, row: sqlite3.Row) -> StoredRun:
        verdicts = tuple(
            Verdict(claim_id=v["claim_id"], status=v["status"], quantity=v["quantity"],
                    estimate=_nan(v["estimate"]), low=_nan(v["low"]), high=_nan(v["high"]),
                    n_seeds=v["n_seeds"], rule=v["rule"], detail=v["detail"], n_diverged=v["n_diverged"],
                    notes=v["notes"], budget=v["budget"])
            for v in self._rows("SELECT * FROM verdicts WHERE run_key = ? ORDER BY rowid", (row["key"],)))
        return StoredRun(key=row["key"], experiment=row["experiment"], version=row["version"],
                         profile=row["profile"], config=json.loads(row["config"]),
                         seeds=tuple(json.loads(row["seeds"])), created=row["created"],
                         wall_s=row["wall_s"], provenance=json.loads(row["provenance"]),
                         verdicts=verdicts)

    def get(self, key: str) -> StoredRun | None:
        rows = self._rows("SELECT * FROM runs WHERE key = ?", (key,))
        return self._stored(rows[0]) if rows else None

    def runs(self, experiment: str | None = None) -> list[StoredRun]:
        """Stored runs, newest first."""
        if experiment is None:
            rows = self._rows("SELECT * FROM runs ORDER BY created DESC")
        else:
            rows = self._rows("SELECT * FROM runs WHERE experiment = ? ORDER BY created DESC", (experiment,))
        return [self._stored(r) for r in rows]

    def results(self, key: str) -> Results:
        (row,) = self._rows("SELECT * FROM runs WHERE key = ?", (key,))
        return unpack_results(row["results"], experiment=row["experiment"], version=row["version"],
                              config=json.loads(row["config"]), seeds=tuple(json.loads(row["seeds"])),
                              wall_s=row["wall_s"])

    def figures(self, key: str) -> dict[str, dict[str, bytes]]:
        out: dict[str, dict[str, bytes]] = {}
        for r in self._rows("SELECT name, format, data FROM figures WHERE run_key = ?", (key,)):
            out.setdefault(r["name"], {})[r["format"]] = r["data"]
        return out

    def __iter__(self) -> Iterator[StoredRun]:
        return iter(self.runs())


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)
