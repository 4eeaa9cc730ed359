"""The library database: one SQLite file (WAL) with the files seen, the models run and their results.

Tables
------
``files``
    One row per path: size, mtime (ns), content hash (xxh3-128 of the bytes), duration, ``status``
    (``tagged``, ``failed``, ``missing``) and the one-line ``error`` of a file that failed.
``models``
    One row per (name, fingerprint of the weights) with its labels.
``results``
    Per (file, model): the mean scores (float32), optionally an embedding (float16) and the
    per-patch timeline (float16), and the run that wrote them.
``runs``
    One row per ``musictag tag --db`` run, with its counts.
``roots``
    The folders (and single files) ever scanned: ``musictag serve`` plays only files inside them.

Paths are stored as text; a name that is not valid UTF-8 (any bytes are allowed on POSIX) is stored
as its raw bytes, and read back as the same ``str`` Python's ``os`` functions use for it.

Scores are stored as blobs and filtered in numpy (:mod:`musictag.library.query`): 50,000 tracks of
50 tags is 10 MB, read in well under a second, and no schema change is needed for a new model.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musictag.errors import MusictagError

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    path TEXT UNIQUE NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash TEXT,
    duration REAL,
    status TEXT NOT NULL,
    error TEXT,
    seen_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS files_hash ON files (hash);
CREATE TABLE IF NOT EXISTS roots (path TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS models (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    labels TEXT NOT NULL,
    folder TEXT NOT NULL,
    UNIQUE (name, fingerprint)
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models (id),
    started_at REAL NOT NULL,
    finished_at REAL,
    counts TEXT
);
CREATE TABLE IF NOT EXISTS results (
    file_id INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    model_id INTEGER NOT NULL REFERENCES models (id),
    run_id INTEGER NOT NULL REFERENCES runs (id),
    scores BLOB NOT NULL,
    layer TEXT,
    embedding BLOB,
    hop REAL,
    timeline BLOB,
    warnings TEXT,
    tagged_at REAL NOT NULL,
    PRIMARY KEY (file_id, model_id)
);
CREATE TABLE IF NOT EXISTS descriptors (  -- key and tempo: of the audio, so by content, shared by copies
    hash TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT,
    confidence REAL NOT NULL,
    PRIMARY KEY (hash, name)
);
"""

#: How a file's row stands.
TAGGED, FAILED, MISSING = "tagged", "failed", "missing"

# a result has what a run asks for: the embedding of the layer asked (if any) and a timeline (if asked)
_HAS = "(? IS NULL OR (r.layer=? AND r.embedding IS NOT NULL)) AND (? = 0 OR r.timeline IS NOT NULL)"

_OWN_TABLES = {"meta", "files", "roots", "models", "runs", "results"}


def _stored(path: str) -> str | bytes:
    """A path as stored: text, or its bytes where it is not valid UTF-8 (SQLite text must be)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


def _path(value: str | bytes) -> str:
    return os.fsdecode(value) if isinstance(value, bytes) else value


def printable(text: str) -> str:
    """``text`` with undecodable bytes of a file name (surrogate escapes) shown as U+FFFD, for storing and
    printing messages."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


@dataclass(frozen=True)
class FileRow:
    """A file's row: where it is, what it was when seen (size, mtime, hash), its status and error."""

    id: int
    path: str
    size: int
    mtime_ns: int
    hash: str | None
    status: str
    error: str | None


@dataclass(frozen=True)
class ModelRow:
    """A model's row: its name, the fingerprint of its weights, its labels and where its files were."""

    id: int
    name: str
    fingerprint: str
    labels: list[str]
    folder: str  # where the weights were when it ran (to embed a file that is not in the library)


class Library:
    """An open library database. Use as a context manager; writes are committed by :meth:`commit`."""

    def __init__(self, path: str | os.PathLike, *, create: bool = True):
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise MusictagError(f"{self.path}: no such library database (make one with 'musictag tag DIR --db FILE')")
        if self.path.is_dir():
            raise MusictagError(f"{self.path}: is a folder, not a library database")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=30)
            tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if tables and not tables >= _OWN_TABLES:  # another application's database: nothing is written
                self.db.close()
                raise MusictagError(
                    f"{self.path}: an SQLite database of another application (tables "
                    f"{', '.join(sorted(tables)[:5])}), not a musictag library; name a new file"
                )
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")  # WAL: a crash loses at most the last commit
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(_SCHEMA)
            version = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise MusictagError(f"{self.path}: not a musictag library database ({exc})") from None
        if version is None:
            self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            self.db.commit()
        elif int(version[0]) != SCHEMA_VERSION:
            raise MusictagError(f"{self.path}: library schema {version[0]}, this musictag reads {SCHEMA_VERSION}")

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Commit and close the connection."""
        self.db.commit()
        self.db.close()

    def commit(self) -> None:
        """Make the writes so far durable."""
        self.db.commit()

    # -- files ----------------------------------------------------------------------------
    def files(self) -> dict[str, FileRow]:
        """Every file row by path."""
        rows = self.db.execute("SELECT id, path, size, mtime_ns, hash, status, error FROM files")
        return {_path(row[1]): FileRow(row[0], _path(row[1]), *row[2:]) for row in rows}

    def file_id(self, path: str) -> int | None:
        """The id of the row for ``path``, or None."""
        row = self.db.execute("SELECT id FROM files WHERE path=?", (_stored(path),)).fetchone()
        return row[0] if row else None

    def file(self, file_id: int) -> FileRow | None:
        """The row with id ``file_id``, or None."""
        row = self.db.execute(
            "SELECT id, path, size, mtime_ns, hash, status, error FROM files WHERE id=?", (file_id,)
        ).fetchone()
        return FileRow(row[0], _path(row[1]), *row[2:]) if row else None

    def delete_file(self, file_id: int) -> None:
        """Remove a file's row (its results go with it)."""
        self.db.execute("DELETE FROM files WHERE id=?", (file_id,))

    def durations(self) -> dict[str, float | None]:
        """Each file's duration in seconds, by path."""
        return {_path(path): duration for path, duration in self.db.execute("SELECT path, duration FROM files")}

    def set_file(
        self,
        path: str,
        *,
        size: int,
        mtime_ns: int,
        hash: str | None,
        status: str,
        duration: float | None = None,
        error: str | None = None,
    ) -> int:
        """Insert or update a file's row; returns its id."""
        self.db.execute(
            "INSERT INTO files (path, size, mtime_ns, hash, duration, status, error, seen_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET size=excluded.size,"
            " mtime_ns=excluded.mtime_ns, hash=excluded.hash, duration=excluded.duration,"
            " status=excluded.status, error=excluded.error, seen_at=excluded.seen_at",
            (
                _stored(path),
                size,
                mtime_ns,
                hash,
                duration,
                status,
                None if error is None else printable(error),
                time.time(),
            ),
        )
        return self.file_id(path)

    def update_stat(self, file_id: int, *, size: int, mtime_ns: int, hash: str) -> None:
        """After musictag rewrote a file's tags: the same music, new bytes."""
        self.db.execute("UPDATE files SET size=?, mtime_ns=?, hash=? WHERE id=?", (size, mtime_ns, hash, file_id))

    def add_roots(self, paths: Iterable[str]) -> None:
        """Remember the folders and files scanned (the server plays only files inside them)."""
        self.db.executemany("INSERT OR IGNORE INTO roots VALUES (?)", [(_stored(os.path.abspath(p)),) for p in paths])

    def roots(self) -> list[str]:
        """Every folder or file ever scanned, as absolute paths."""
        return [_path(row[0]) for row in self.db.execute("SELECT path FROM roots")]

    def mark_missing(self, paths: Iterable[str]) -> None:
        """Mark the rows of ``paths`` as gone."""
        self.db.executemany("UPDATE files SET status=? WHERE path=?", [(MISSING, _stored(p)) for p in paths])

    def move(self, file_id: int, new_path: str, *, size: int, mtime_ns: int) -> None:
        """The same content, found under a new path (the old one is gone)."""
        self.db.execute(
            "UPDATE files SET path=?, size=?, mtime_ns=?, status=?, seen_at=? WHERE id=?",
            (_stored(new_path), size, mtime_ns, TAGGED, time.time(), file_id),
        )

    def tagged_with_hash(
        self, content_hash: str, model_id: int, *, layer: str | None = None, timeline: bool = False
    ) -> FileRow | None:
        """A file with this content that ``model_id`` has results for (with an embedding of ``layer`` and a
        timeline where asked)."""
        row = self.db.execute(
            "SELECT f.id, f.path, f.size, f.mtime_ns, f.hash, f.status, f.error FROM files f JOIN results r"
            f" ON r.file_id=f.id WHERE f.hash=? AND r.model_id=? AND {_HAS} LIMIT 1",
            (content_hash, model_id, layer, layer, int(timeline)),
        ).fetchone()
        return FileRow(row[0], _path(row[1]), *row[2:]) if row else None

    # -- descriptors (key, bpm) ---------------------------------------------------------------
    def descriptors(self, content_hash: str) -> dict[str, dict]:
        """``{"key": {"value": "A minor" | None, "confidence": c}, "bpm": {"value": 120.1 | None, ...}}``
        as far as known for this content."""
        rows = self.db.execute("SELECT name, value, confidence FROM descriptors WHERE hash=?", (content_hash,))
        return {
            name: {"value": float(value) if name == "bpm" and value is not None else value, "confidence": confidence}
            for name, value, confidence in rows
        }

    def put_descriptors(self, content_hash: str, found: dict[str, dict]) -> None:
        """Store what :func:`musictag.describe.describe_file` found for this content."""
        self.db.executemany(
            "INSERT OR REPLACE INTO descriptors VALUES (?, ?, ?, ?)",
            [
                (content_hash, name, None if d["value"] is None else str(d["value"]), d["confidence"])
                for name, d in found.items()
            ],
        )

    def undescribed(self, names: tuple[str, ...]) -> list[FileRow]:
        """Tagged files whose content lacks one of the descriptors ``names``."""
        marks = ",".join("?" * len(names))
        rows = self.db.execute(
            "SELECT id, path, size, mtime_ns, hash, status, error FROM files f WHERE status=? AND hash IS NOT NULL"
            f" AND (SELECT COUNT(*) FROM descriptors d WHERE d.hash=f.hash AND d.name IN ({marks})) < ?",
            (TAGGED, *names, len(names)),
        )
        return [FileRow(row[0], _path(row[1]), *row[2:]) for row in rows]

    # -- models and runs --------------------------------------------------------------------
    def model(self, name: str, fingerprint: str, labels: list[str], folder: str) -> int:
        """The id of this model (added on first use)."""
        self.db.execute(
            "INSERT OR IGNORE INTO models (name, fingerprint, labels, folder) VALUES (?, ?, ?, ?)",
            (name, fingerprint, json.dumps(labels), folder),
        )
        return self.db.execute("SELECT id FROM models WHERE name=? AND fingerprint=?", (name, fingerprint)).fetchone()[
            0
        ]

    def models(self) -> list[ModelRow]:
        """Every model that has run on this library, oldest first."""
        rows = self.db.execute("SELECT id, name, fingerprint, labels, folder FROM models ORDER BY id")
        return [ModelRow(i, n, f, json.loads(labels), folder) for i, n, f, labels, folder in rows]

    def pick_model(self, name: str | None = None) -> ModelRow:
        """The model called ``name`` (or whose weights a model folder or exported .onnx file ``name`` holds),
        or the one with most results when not named."""
        models = self.models()
        if name is not None and (Path(name).is_dir() or name.endswith(".onnx") and Path(name).is_file()):
            from musictag.utils.hashing import model_fingerprint

            fingerprint = model_fingerprint(name)
            models = [m for m in models if m.fingerprint == fingerprint]
        elif name is not None:
            models = [m for m in models if m.name == name or Path(m.name).name == name]
        if not models:
            if name is None:
                raise MusictagError(f"{self.path}: no tagged files yet; run 'musictag tag DIR --db {self.path}'")
            known = ", ".join(m.name for m in self.models()) or "none yet"
            raise MusictagError(f"{self.path}: no results of model {name!r} (it has: {known})")
        counts = dict(self.db.execute("SELECT model_id, COUNT(*) FROM results GROUP BY model_id").fetchall())
        return max(models, key=lambda m: counts.get(m.id, 0))

    def start_run(self, model_id: int) -> int:
        """Record the start of a run of ``model_id``; returns the run's id."""
        cursor = self.db.execute("INSERT INTO runs (model_id, started_at) VALUES (?, ?)", (model_id, time.time()))
        self.db.commit()
        return cursor.lastrowid

    def finish_run(self, run_id: int, counts: dict) -> None:
        """Record the end of a run and its counts."""
        self.db.execute("UPDATE runs SET finished_at=?, counts=? WHERE id=?", (time.time(), json.dumps(counts), run_id))
        self.db.commit()

    # -- results ------------------------------------------------------------------------------
    def done(self, model_id: int, *, layer: str | None = None, timeline: bool = False) -> set[int]:
        """Ids of the files that ``model_id`` has results for, with an embedding of ``layer`` and a timeline
        where asked (a library made without them gains them on the next run that asks)."""
        rows = self.db.execute(
            f"SELECT file_id FROM results r WHERE model_id=? AND {_HAS}", (model_id, layer, layer, int(timeline))
        )
        return {row[0] for row in rows}

    def duration(self, file_id: int) -> float | None:
        """A file's duration in seconds (None if unknown)."""
        return self.db.execute("SELECT duration FROM files WHERE id=?", (file_id,)).fetchone()[0]

    def put_result(
        self,
        file_id: int,
        model_id: int,
        run_id: int,
        *,
        scores: np.ndarray,
        layer: str | None = None,
        embedding: np.ndarray | None = None,
        hop: float | None = None,
        timeline: np.ndarray | None = None,
        warnings: list[str] | None = None,
        keep: bool = False,
    ) -> None:
        """Store a file's result; with ``keep`` (the same content tagged again) an embedding or timeline
        stored before and not computed now is kept."""
        self.db.execute(
            "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (file_id, model_id) DO UPDATE SET"
            " run_id=excluded.run_id, scores=excluded.scores, warnings=excluded.warnings,"
            " tagged_at=excluded.tagged_at, hop=excluded.hop,"
            " layer=CASE WHEN excluded.embedding IS NULL AND ? THEN results.layer ELSE excluded.layer END,"
            " embedding=CASE WHEN excluded.embedding IS NULL AND ? THEN results.embedding ELSE excluded.embedding END,"
            " timeline=CASE WHEN excluded.timeline IS NULL AND ? THEN results.timeline ELSE excluded.timeline END",
            (
                file_id,
                model_id,
                run_id,
                _blob(scores, np.float32),
                layer,
                None if embedding is None else _blob(embedding, np.float16),
                hop,
                None if timeline is None else _blob(timeline, np.float16),
                json.dumps(warnings) if warnings else None,
                time.time(),
                keep,
                keep,
                keep,
            ),
        )

    def copy_result(self, source_file: int, target_file: int, model_id: int) -> None:
        """Results of identical content, given to another path."""
        self.db.execute(
            "INSERT OR REPLACE INTO results SELECT ?, model_id, run_id, scores, layer, embedding, hop, timeline,"
            " warnings, tagged_at FROM results WHERE file_id=? AND model_id=?",
            (target_file, source_file, model_id),
        )

    def score_matrix(self, model: ModelRow, *, status: str = TAGGED) -> tuple[list[int], list[str], np.ndarray]:
        """(file ids, paths, scores ``(n_files, n_labels)``) of every file with ``status`` and results of ``model``."""
        rows = self.db.execute(
            "SELECT f.id, f.path, r.scores FROM files f JOIN results r ON r.file_id=f.id"
            " WHERE r.model_id=? AND f.status=? ORDER BY f.path",
            (model.id, status),
        ).fetchall()
        scores = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), len(model.labels))
        return [r[0] for r in rows], [_path(r[1]) for r in rows], scores

    def embeddings(self, model: ModelRow) -> tuple[list[str], str | None, np.ndarray]:
        """(paths, layer, embeddings ``(n, dim)`` float32) of present files that have one."""
        rows = self.db.execute(
            "SELECT f.path, r.layer, r.embedding FROM files f JOIN results r ON r.file_id=f.id"
            " WHERE r.model_id=? AND f.status=? AND r.embedding IS NOT NULL ORDER BY f.path",
            (model.id, TAGGED),
        ).fetchall()
        if not rows:
            return [], None, np.zeros((0, 0), np.float32)
        vectors = np.stack([np.frombuffer(r[2], dtype=np.float16) for r in rows]).astype(np.float32)
        return [_path(r[0]) for r in rows], rows[0][1], vectors

    def status_counts(self) -> dict[str, int]:
        """How many files have each status."""
        return dict(self.db.execute("SELECT status, COUNT(*) FROM files GROUP BY status").fetchall())

    def failures(self) -> list[tuple[str, str]]:
        """(path, one-line error) of every file that failed, by path."""
        rows = self.db.execute("SELECT path, error FROM files WHERE status=? ORDER BY path", (FAILED,))
        return [(_path(path), error) for path, error in rows]

    def total_duration(self) -> float:
        """Seconds of audio tagged."""
        value = self.db.execute("SELECT SUM(duration) FROM files WHERE status=?", (TAGGED,)).fetchone()[0]
        return float(value or 0.0)


def _blob(array: np.ndarray, dtype) -> bytes:
    return np.ascontiguousarray(array, dtype=dtype).tobytes()
