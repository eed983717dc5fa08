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
import os
import socket
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deeplimits.experiment import ArmResults, Results, Verdict

SCHEMA_VERSION = 1  # PRAGMA user_version; 0 is a store written before versions (migrated on open)

TABLES = """
CREATE TABLE runs (
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
CREATE TABLE verdicts (
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
CREATE TABLE figures (
    run_key TEXT NOT NULL REFERENCES runs(key) ON DELETE CASCADE,
    name TEXT NOT NULL,
    format TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_key, name, format)
);
CREATE TABLE leases (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    heartbeat REAL NOT NULL
);
CREATE TABLE sweeps (
    id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    profile TEXT NOT NULL,
    axes TEXT NOT NULL,
    fixed TEXT NOT NULL,
    seeds TEXT NOT NULL,
    points TEXT NOT NULL,
    created TEXT NOT NULL,
    figure BLOB
);
"""
COLUMNS = {
    "runs": ("key", "experiment", "version", "profile", "config", "seeds", "created", "wall_s", "provenance",
             "results"),
    "verdicts": ("run_key", "claim_id", "status", "quantity", "estimate", "low", "high", "n_seeds", "rule",
                 "detail", "n_diverged", "notes", "budget"),
    "figures": ("run_key", "name", "format", "data"),
    "leases": ("key", "owner", "host", "pid", "heartbeat"),
    "sweeps": ("id", "experiment", "profile", "axes", "fixed", "seeds", "points", "created", "figure"),
}
# verdict columns added after the first release: an unversioned store written before them gains them
ADDED_VERDICT_COLUMNS = {"n_diverged": "INTEGER NOT NULL DEFAULT 0", "notes": "TEXT NOT NULL DEFAULT ''",
                         "budget": "TEXT NOT NULL DEFAULT ''"}
SQLITE_HEADER = b"SQLite format 3\x00"
LEASE_TIMEOUT_S = 120.0  # a lease whose holder has not renewed it for this long is abandoned
LEASE_RENEW_S = 20.0


class StoreError(ValueError):
    """The results directory or its store cannot be used; the message is one line for the user."""


def _create_statements() -> list[str]:
    return [s.strip() for s in TABLES.split(";") if s.strip()]


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
    """The SQLite file ``<directory>/deeplimits.sqlite``.

    Opening it checks the file before anything else: not a database, a schema of a newer
    deeplimits, or tables that are missing or not ours raise :class:`StoreError` (one line)
    and leave the file as it was. An unversioned store of the first releases is migrated.
    """

    FILENAME = "deeplimits.sqlite"

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / self.FILENAME
        self._writable: bool | None = None  # probed once per Store (a probe creates and removes a folder)

    def check(self) -> None:
        """Raise :class:`StoreError` unless runs can be read from and written to this directory."""
        check_results_dir(self.directory)
        if self.path.exists():
            self._connect().close()

    def _connect(self, *, write: bool = True) -> sqlite3.Connection:
        """A checked connection; ``write=False`` reads a store in a directory this user cannot write to."""
        check_results_dir(self.directory, write=write and not self._writable)
        if write:
            self._writable = True
        if self.path.is_dir() or (self.path.exists() and not _looks_like_sqlite(self.path)):
            raise StoreError(f"{self.path} is not a deeplimits store (not an SQLite database); move it away or "
                             f"choose another results directory (--out)")
        if self._writable is None:
            self._writable = _can_create_in(self.directory)
        read_only = not write and not self._writable
        if read_only:
            connection = self._connect_read_only()
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=30)
        try:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"{self.path} was written by a newer deeplimits (store schema {version}, this "
                                 f"one reads {SCHEMA_VERSION}); upgrade deeplimits or choose another --out")
            if version < SCHEMA_VERSION and read_only:
                raise StoreError(f"{self.path} is of an older deeplimits and must be upgraded in place, but its "
                                 f"directory is not writable; run deeplimits once where it can write there")
            if version < SCHEMA_VERSION:
                self._migrate(connection)
            else:
                self._check_tables(connection)
            if not read_only:
                connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            connection.close()
            raise StoreError(f"{self.path} cannot be read ({exc}); move it away or choose another results "
                             f"directory (--out)") from None
        except BaseException:
            connection.close()
            raise
        return connection

    def _connect_read_only(self) -> sqlite3.Connection:
        """Read where this process cannot write. SQLite reads a WAL store read-only while its ``-wal`` and
        ``-shm`` files exist; where they do not (every writer closed), nothing is pending and the file is
        read as immutable (SQLite cannot make its WAL index in a folder it cannot write to)."""
        uri = self.path.resolve().as_uri()
        try:
            connection = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30)
            connection.execute("PRAGMA user_version").fetchone()
            return connection
        except sqlite3.OperationalError:
            pass
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise StoreError(f"{self.path} has writes not yet merged into it (its -wal file) and its directory is "
                             f"not writable, so they cannot be read; read it where it can be written")
        return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=30)

    def _tables(self, connection: sqlite3.Connection) -> dict[str, tuple[str, ...]]:
        names = [r[0] for r in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {n: tuple(r[1] for r in connection.execute(f"PRAGMA table_info({n})")) for n in names}

    def _check_tables(self, connection: sqlite3.Connection) -> None:
        have = self._tables(connection)
        for table, columns in COLUMNS.items():
            if table not in have:
                raise StoreError(f"{self.path} is damaged: its table {table!r} is missing; restore the file or "
                                 f"move it away (choose another --out)")
            if set(have[table]) != set(columns):
                odd = sorted(set(have[table]) ^ set(columns))
                raise StoreError(f"{self.path} is damaged: table {table!r} has columns that do not match this "
                                 f"deeplimits ({', '.join(odd)}); restore the file or move it away")

    def _migrate(self, connection: sqlite3.Connection) -> None:
        """An empty file gets the schema; an unversioned store of ours gains what it lacks; anything else is refused."""
        connection.execute("BEGIN IMMEDIATE")  # one process migrates, the others wait and then see the version
        try:
            if connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
                connection.rollback()
                self._check_tables(connection)
                return
            have = self._tables(connection)
            foreign = sorted(set(have) - set(COLUMNS))
            if foreign or (have and "runs" not in have):
                raise StoreError(f"{self.path} is not a deeplimits store (tables {', '.join(sorted(have))}); "
                                 f"move it away or choose another results directory (--out)")
            for statement in _create_statements():
                table = statement.split()[2]
                if table not in have:
                    connection.execute(statement)
            if "verdicts" in have:
                for column, declaration in ADDED_VERDICT_COLUMNS.items():
                    if column not in have["verdicts"]:
                        connection.execute(f"ALTER TABLE verdicts ADD COLUMN {column} {declaration}")
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._check_tables(connection)
            connection.commit()
        except BaseException:
            connection.rollback()
            raise

    def save(self, *, key: str, profile: str, results: Results, verdicts: list[Verdict],
             figures: dict[str, dict[str, bytes]], created: str, provenance: dict[str, Any]) -> None:
        """Write a whole run in one transaction (replacing a run with the same key); its lease ends with it."""
        connection = self._connect()
        try:
            with connection:
                connection.execute("DELETE FROM runs WHERE key = ?", (key,))
                connection.execute(
                    f"INSERT INTO runs ({', '.join(COLUMNS['runs'])}) VALUES ({', '.join('?' * 10)})",
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
                    "INSERT INTO figures (run_key, name, format, data) VALUES (?, ?, ?, ?)",
                    [(key, name, fmt, data) for name, formats in figures.items()
                     for fmt, data in formats.items()])
                connection.execute("DELETE FROM leases WHERE key = ?", (key,))
        finally:
            connection.close()

    # Leases: which process is computing a run, so that two never compute the same one at once.

    def claim(self, key: str, owner: str, *, rerun: bool = False) -> str:
        """``"done"`` if the run is stored, ``"mine"`` if this owner now holds its lease, else ``"busy"``.

        A lease is abandoned when its holder stops renewing it (:data:`LEASE_TIMEOUT_S`) or, on
        this host, when the holding process is gone (a killed driver frees its runs at once).
        ``rerun``: take the lease of a stored run too (it is to be recomputed).
        """
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                if not rerun and connection.execute("SELECT 1 FROM runs WHERE key = ?", (key,)).fetchone():
                    return "done"
                row = connection.execute("SELECT owner, host, pid, heartbeat FROM leases WHERE key = ?",
                                         (key,)).fetchone()
                if row is not None and row[0] != owner and not _abandoned(*row[1:]):
                    return "busy"
                connection.execute("INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?, ?)",
                                   (key, owner, socket.gethostname(), os.getpid(), time.time()))
                return "mine"
            finally:
                connection.commit()
        finally:
            connection.close()

    def holder(self, key: str) -> str | None:
        """Who holds the lease of ``key`` (``pid N on HOST``), if anyone."""
        rows = self._rows("SELECT host, pid FROM leases WHERE key = ?", (key,))
        return f"pid {rows[0]['pid']} on {rows[0]['host']}" if rows else None

    def renew(self, keys: list[str], owner: str) -> None:
        connection = self._connect()
        try:
            with connection:
                connection.executemany("UPDATE leases SET heartbeat = ? WHERE key = ? AND owner = ?",
                                       [(time.time(), k, owner) for k in keys])
        finally:
            connection.close()

    def release(self, key: str, owner: str) -> None:
        connection = self._connect()
        try:
            with connection:
                connection.execute("DELETE FROM leases WHERE key = ? AND owner = ?", (key, owner))
        finally:
            connection.close()

    # Sweeps: a grid of runs, kept so that the report can draw them together.

    def save_sweep(self, *, sweep_id: str, experiment: str, profile: str, axes: dict[str, list[Any]],
                   fixed: dict[str, Any], seeds: tuple[int, ...], points: list[dict[str, Any]], created: str,
                   figure: bytes | None = None) -> None:
        connection = self._connect()
        try:
            with connection:
                connection.execute(
                    "INSERT OR REPLACE INTO sweeps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (sweep_id, experiment, profile, json.dumps(axes), json.dumps(fixed, sort_keys=True),
                     json.dumps(list(seeds)), json.dumps(points), created, figure))
        finally:
            connection.close()

    def sweeps(self) -> list[dict[str, Any]]:
        """Stored sweeps, newest first (axes, fixed settings, points with their run keys, figure PNG or None)."""
        return [{"id": r["id"], "experiment": r["experiment"], "profile": r["profile"],
                 "axes": json.loads(r["axes"]), "fixed": json.loads(r["fixed"]),
                 "seeds": tuple(json.loads(r["seeds"])), "points": json.loads(r["points"]),
                 "created": r["created"], "figure": r["figure"]}
                for r in self._rows("SELECT * FROM sweeps ORDER BY created DESC, id")]

    def _rows(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        check_results_dir(self.directory, write=False)
        if not self.path.exists() or (self.path.is_file() and self.path.stat().st_size == 0):
            return []  # no store yet, or a new one no run was written to
        connection = self._connect(write=False)
        connection.row_factory = sqlite3.Row
        try:
            return connection.execute(sql, args).fetchall()
        finally:
            connection.close()

    def _stored(self, row: sqlite3.Row, verdict_rows: list[sqlite3.Row]) -> StoredRun:
        verdicts = tuple(
            Verdict(claim_id=v["claim_id"], status=v["status"], quantity=v["quantity"],
                    estimate=_nan(v["estimate"]), low=_nan(v["low"]), high=_nan(v["high"]),
                    n_seeds=v["n_seeds"], rule=v["rule"], detail=v["detail"], n_diverged=v["n_diverged"],
                    notes=v["notes"], budget=v["budget"])
            for v in verdict_rows)
        return StoredRun(key=row["key"], experiment=row["experiment"], version=row["version"],
                         profile=row["profile"], config=json.loads(row["config"]),
                         seeds=tuple(json.loads(row["seeds"])), created=row["created"],
                         wall_s=row["wall_s"], provenance=json.loads(row["provenance"]),
                         verdicts=verdicts)

    def _runs_where(self, where: str, args: tuple) -> list[StoredRun]:
        columns = ", ".join(c for c in COLUMNS["runs"] if c != "results")
        rows = self._rows(f"SELECT {columns} FROM runs {where} ORDER BY created DESC, key", args)
        if not rows:
            return []
        by_run: dict[str, list[sqlite3.Row]] = {}
        keys = [r["key"] for r in rows]
        for v in self._rows(f"SELECT * FROM verdicts WHERE run_key IN ({', '.join('?' * len(keys))}) "
                            f"ORDER BY rowid", tuple(keys)):
            by_run.setdefault(v["run_key"], []).append(v)
        return [self._stored(r, by_run.get(r["key"], [])) for r in rows]

    def get(self, key: str) -> StoredRun | None:
        found = self._runs_where("WHERE key = ?", (key,))
        return found[0] if found else None

    def runs(self, experiment: str | None = None) -> list[StoredRun]:
        """Stored runs, newest first."""
        if experiment is None:
            return self._runs_where("", ())
        return self._runs_where("WHERE experiment = ?", (experiment,))

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


def check_results_dir(directory: Path, *, write: bool = True) -> None:
    """Checked before any work: a results directory is a directory, or can be created in the nearest
    existing one above it; with ``write``, this process can create files there (to read, it need not)."""
    directory = Path(directory)
    for place in (directory, *directory.parents):
        if place.exists():
            if not place.is_dir():
                what = "is a file" if place == directory else f"is under {place}, which is a file"
                raise StoreError(f"results directory {directory} {what}; give a directory (it is created if "
                                 f"missing) with --out or DEEPLIMITS_HOME")
            if write and not _can_create_in(place):
                where = "" if place == directory else f" (it would be created in {place}, which is not writable)"
                raise StoreError(f"results directory {directory} is not writable{where}; choose another with --out "
                                 f"or DEEPLIMITS_HOME")
            if not write and place == directory and not os.access(place, os.R_OK | os.X_OK):
                raise StoreError(f"results directory {directory} is not readable; choose another with --out")
            return


def _can_create_in(folder: Path) -> bool:
    """Whether this process can create entries in ``folder``: tried, since permission bits do not tell
    (root passes them, ``/proc`` and read-only mounts refuse whatever they say)."""
    if not folder.exists():
        return False
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        os.rmdir(tempfile.mkdtemp(dir=folder, prefix=".deeplimits-probe-"))
    except OSError:
        return False
    return True


def _looks_like_sqlite(path: Path) -> bool:
    """An empty file (a new store) or one that starts with SQLite's header; read without opening it as a database."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except OSError:
        return False
    return head in (b"", SQLITE_HEADER)


def _abandoned(host: str, pid: int, heartbeat: float) -> bool:
    if time.time() - heartbeat > LEASE_TIMEOUT_S:
        return True
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)
