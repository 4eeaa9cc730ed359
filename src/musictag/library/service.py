"""What one can do with a tagged library, in one place for both faces (``musictag library`` and
``musictag serve``): find tracks by tag scores and path, look one up, find similar ones, say which file
may be played, write and clear tags in the files, export and summarise.

The faces parse their input, call a :class:`LibraryService` method and print or answer what it
returns; the SQL lives in :mod:`musictag.library.database`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from musictag.errors import MusictagError
from musictag.library.database import TAGGED, Library, ModelRow
from musictag.utils.paths import is_under

if TYPE_CHECKING:
    from musictag.library.query import Query


class NotFound(MusictagError):
    """A track, model or embedding the library does not have (404 from the server)."""


@dataclass(frozen=True)
class Track:
    """A tagged file and its scores (every label of ``model``)."""

    id: int
    path: str
    scores: np.ndarray
    labels: list[str]

    def top(self, k: int | None = 5) -> list[tuple[str, float]]:
        """The ``k`` best tags (all with ``None``), best first."""
        order = np.argsort(-self.scores, kind="stable")[:k]
        return [(self.labels[i], float(self.scores[i])) for i in order]

    def score(self, tag: str) -> float:
        """The track's score for ``tag``."""
        return float(self.scores[self.labels.index(tag)])


@dataclass
class Found:
    """A page of the tracks that match, and how many match in all."""

    model: ModelRow
    total: int
    tracks: list[Track]
    tags: list[str] = field(default_factory=list)  # the tags the query names, in order


@dataclass(frozen=True)
class WritePlan:
    """What to write into one file: musictag's fields (empty: remove them) and, optionally, a genre."""

    file_id: int
    path: str
    fields: dict[str, list[str]]
    genre: str | None = None


class LibraryService:
    """Operations on the library database at ``db`` (opened per call: the server's workers share it)."""

    def __init__(self, db: str | os.PathLike):
        self.db = str(db)
        self._matrix: dict = {}  # (model id, db mtime, wal mtime) -> (ids, paths, scores)

    def open(self) -> Library:
        """The database, opened (use as a context manager)."""
        return Library(self.db, create=False)

    # -- finding tracks ---------------------------------------------------------------------
    def scores(self, model: str | None = None) -> tuple[ModelRow, list[int], list[str], np.ndarray]:
        """(model, file ids, paths, scores) of every tagged file; read once per change of the database."""
        with self.open() as library:
            chosen = _model(library, model)
            key = (chosen.id, _mtime(self.db), _mtime(self.db + "-wal"))
            if key not in self._matrix:  # a 50,000-track library is read once, not per page
                self._matrix = {key: library.score_matrix(chosen)}
        return chosen, *self._matrix[key]

    def find(
        self,
        *,
        query: str = "",
        search: str = "",
        model: str | None = None,
        offset: int = 0,
        limit: int | None = None,
        sort: bool = False,
    ) -> Found:
        """The tracks whose scores match ``query`` (the :mod:`~musictag.library.query` grammar) and whose
        path holds ``search`` (any case); with ``sort``, best first by the first tag the query names."""
        from musictag.library.query import Query

        chosen, ids, paths, scores = self.scores(model)
        keep = np.ones(len(ids), bool)
        parsed: Query | None = Query(query, chosen.labels) if query.strip() else None
        if parsed is not None and len(ids):
            keep &= parsed(scores)
        if search.strip():
            needle = search.lower()
            keep &= np.array([needle in p.lower() for p in paths], bool)
        rows = np.flatnonzero(keep)
        if sort and parsed is not None:
            first = chosen.labels.index(parsed.tags[0])
            rows = rows[np.argsort(-scores[rows, first], kind="stable")]
        page = rows[offset : None if limit is None else offset + limit]
        tracks = [Track(ids[i], paths[i], scores[i], chosen.labels) for i in page]
        return Found(chosen, int(len(rows)), tracks, list(dict.fromkeys(parsed.tags)) if parsed else [])

    def track(self, track_id: int, *, model: str | None = None) -> Track:
        """One tagged track by its id (:class:`NotFound` otherwise)."""
        chosen, ids, paths, scores = self.scores(model)
        index = _index_of(ids, track_id)
        return Track(ids[index], paths[index], scores[index], chosen.labels)

    def similar(
        self, *, track_id: int | None = None, path: str | None = None, n: int = 10, model: str | None = None
    ) -> tuple[str, list[tuple[Track, float]]]:
        """(the embeddings' layer, the ``n`` tracks most like a library track or any audio file, with their
        cosine similarity). A file outside the library is embedded now with the library's model."""
        from musictag.library.similar import nearest

        chosen, ids, paths, scores = self.scores(model)
        with self.open() as library:
            embedded, layer, vectors = library.embeddings(chosen)
        if not embedded:
            raise NotFound(f"{self.db}: no embeddings stored for {chosen.name}; tag with --embed penultimate")
        target = paths[_index_of(ids, track_id)] if track_id is not None else os.path.abspath(str(path))
        if target in embedded:
            vector = vectors[embedded.index(target)]
        elif track_id is not None:
            raise NotFound(f"track {track_id} has no embedding")
        else:
            vector = _embed_now(str(path), chosen, layer)
        by_path = {p: i for i, p in enumerate(paths)}
        out = []
        for other, similarity in nearest(embedded, vectors, vector, exclude=target):
            if len(out) == n:
                break
            if other in by_path:
                i = by_path[other]
                out.append((Track(ids[i], paths[i], scores[i], chosen.labels), similarity))
        return layer, out

    def playable(self, track_id: int) -> str:
        """The real path of a tagged track that lies inside a folder the library was made from (symlinks
        resolved), for playing it; anything else is :class:`NotFound`."""
        with self.open() as library:
            row = library.file(track_id)
            roots = [os.path.realpath(r) for r in library.roots()]
        if row is None or row.status != TAGGED:
            raise NotFound(f"no track {track_id}")
        real = os.path.realpath(row.path)
        if not is_under(real, roots) or not os.path.isfile(real):
            raise NotFound(f"track {track_id} is not a file inside the library's folders")
        return real

    # -- tags in the files ------------------------------------------------------------------------
    def write_plans(
        self,
        *,
        model: str | None = None,
        top_k: int = 5,
        threshold: float | None = None,
        genre_model: str | None = None,
    ) -> tuple[ModelRow, list[WritePlan]]:
        """What ``write-tags`` writes: each tagged file's ``top_k`` tags (0: all), or those scoring at
        least ``threshold``, and with ``genre_model`` that model's best class as the genre."""
        from musictag.library.filetags import tag_fields

        chosen, ids, paths, scores = self.scores(model)
        genre_of = {}
        if genre_model:
            genres, _, genre_paths, genre_scores = self.scores(genre_model)
            genre_of = {p: genres.labels[int(row.argmax())] for p, row in zip(genre_paths, genre_scores, strict=True)}
        plans = []
        for file_id, path, row in zip(ids, paths, scores, strict=True):
            top = Track(file_id, path, row, chosen.labels).top(top_k or None)
            if threshold is not None:
                top = [(tag, score) for tag, score in top if score >= threshold]
            plans.append(WritePlan(file_id, path, tag_fields(top, chosen.name), genre_of.get(path)))
        return chosen, plans

    def clear_plans(self) -> list[WritePlan]:
        """What ``clear-tags`` does: remove musictag's fields from every tagged file."""
        with self.open() as library:
            rows = [row for row in library.files().values() if row.status == TAGGED]
        return [WritePlan(row.id, row.path, {}) for row in sorted(rows, key=lambda r: r.path)]

    def rewrite(self, plans: list[WritePlan], *, on_file: Callable[[WritePlan, str | None], None]) -> int:
        """Apply ``plans``: ``on_file(plan, error)`` is called for each (``error`` None when written). A
        file whose size, mtime or content is no longer what was tagged is skipped (its tags would
        describe other music). The database learns each rewritten file's new size, mtime and hash, so
        the next ``tag --db`` does not take it for changed music. Returns the number skipped."""
        from musictag.errors import failure_line
        from musictag.library.filetags import write_tags
        from musictag.utils.hashing import audio_hash

        failed = 0
        with self.open() as library:
            for plan in plans:
                try:
                    if changed_since_tagging(library, plan.file_id, plan.path):
                        raise MusictagError(f"{plan.path}: changed since tagging; run tag --db")
                    write_tags(plan.path, plan.fields, genre=plan.genre)
                except Exception as exc:  # one file's problem never stops the others
                    failed += 1
                    on_file(plan, failure_line(plan.path, exc))
                    continue
                stat = os.stat(plan.path)
                library.update_stat(
                    plan.file_id, size=stat.st_size, mtime_ns=stat.st_mtime_ns, hash=audio_hash(plan.path)
                )
                library.commit()
                on_file(plan, None)
        return failed

    # -- overview -------------------------------------------------------------------------------
    def export_rows(self, model: str | None = None) -> tuple[ModelRow, Iterator[tuple[str, float | None, np.ndarray]]]:
        """(model, rows of path, duration and scores) of every tagged file."""
        chosen, _, paths, scores = self.scores(model)
        with self.open() as library:
            durations = library.durations()
        return chosen, ((path, durations.get(path), row) for path, row in zip(paths, scores, strict=True))

    def stats(self) -> Stats:
        """Files by status, hours tagged, per model its most common tags, and a few failures."""
        with self.open() as library:
            counts, hours, failures = library.status_counts(), library.total_duration() / 3600, library.failures()
            per_model = [ModelStats(model, *library.score_matrix(model)[1:]) for model in library.models()]
        return Stats(counts, hours, per_model, failures)


@dataclass
class ModelStats:
    """One model's results in a library: which files, their scores."""

    model: ModelRow
    paths: list[str]
    scores: np.ndarray

    def common_tags(self, k: int = 10) -> list[tuple[str, float, int]]:
        """(tag, mean score, files whose best tag it is) of the ``k`` tags with the highest mean score."""
        if not self.paths:
            return []
        best = np.bincount(self.scores.argmax(axis=1), minlength=len(self.model.labels))
        means = self.scores.mean(axis=0)
        return [(self.model.labels[i], float(means[i]), int(best[i])) for i in np.argsort(-means)[:k]]


@dataclass
class Stats:
    """A library at a glance: files by status, hours tagged, per model its results, failures."""

    counts: dict[str, int]
    hours: float
    models: list[ModelStats]
    failures: list[tuple[str, str]]


def changed_since_tagging(library: Library, file_id: int, path: str) -> bool:
    """Whether the audio of the file at ``path`` differs from what was tagged as ``file_id`` (its tags
    alone may have changed: the scores still hold)."""
    from musictag.utils.hashing import audio_hash

    row, stat = library.file(file_id), os.stat(path)
    if row is None:
        return True
    if (row.size, row.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
        return False
    return row.hash is None or audio_hash(path) != row.hash


def _model(library: Library, name: str | None) -> ModelRow:
    try:
        return library.pick_model(name)
    except MusictagError as exc:
        raise NotFound(str(exc)) from None


def _index_of(ids: list[int], track_id: int | None) -> int:
    try:
        return ids.index(track_id)
    except ValueError:
        raise NotFound(f"no track {track_id}") from None


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def _embed_now(path: str, model: ModelRow, layer: str) -> np.ndarray:
    """A file outside the library, embedded with the model the library's embeddings came from."""
    from musictag.inference.factory import open_tagger
    from musictag.utils.hashing import model_fingerprint

    if not os.path.exists(model.folder) or model_fingerprint(model.folder) != model.fingerprint:
        raise MusictagError(
            f"{path}: not in the library, and {model.name}'s weights are no longer at {model.folder} to embed it"
        )
    if not Path(path).exists():
        raise MusictagError(f"{path}: no such file")
    return open_tagger(model.folder).embed(path, layer=layer).embedding
