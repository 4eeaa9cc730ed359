"""``musictag tag DIR --db F``: tag what is new or changed in a library, record it, resume after a kill.

A file is skipped when its path, size and mtime match a row this model has results for (no
reading, so a rerun on an unchanged library costs one ``stat`` per file). A new or changed file
is hashed; content already tagged under another path is moved (the old path is gone) or copied
(both exist), never tagged again. Results are committed every ``commit_every`` files, so a
killed run loses at most those, and the next run starts where it stopped.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from musictag.library.database import FAILED, MISSING, TAGGED, Library
from musictag.utils.hashing import audio_hash, model_fingerprint
from musictag.utils.paths import is_under

if TYPE_CHECKING:
    from musictag.inference.results import FileError, TagResult
    from musictag.models.config import ModelConfig


@dataclass
class Plan:
    """What a run has to do: files to tag (path, size, mtime, hash) and what it found done."""

    todo: list[tuple[str, int, int, str | None]] = field(default_factory=list)
    unchanged: int = 0
    still_failing: list[tuple[str, str]] = field(default_factory=list)  # unchanged files that failed before
    reused: int = 0  # content already tagged under another path (moved or copied)
    missing: int = 0  # rows under the scanned folders whose file is gone
    same_content: set[str] = field(default_factory=set)  # tagged again for what they lack, content unchanged
    # files whose content is also to be tagged in this run under another path: that path's result is copied
    twins: dict[str, list[tuple[str, int, int, str]]] = field(default_factory=dict)


def plan_run(
    library: Library,
    files: list[str],
    *,
    model_id: int,
    roots: list[str],
    embed: str | None = None,
    timeline: bool = False,
) -> Plan:
    """Compare the files found with the database; marks gone files and records reused content. A file
    is done when its result has the ``embed`` layer's embedding and a ``timeline`` where they are asked."""
    plan = Plan()
    rows = library.files()
    done = library.done(model_id, layer=embed, timeline=timeline)
    planned: dict[str, str] = {}  # content hash -> the path that will be tagged for it
    found = {os.path.abspath(path) for path in files}
    for raw in files:
        path = os.path.abspath(raw)
        try:
            stat = os.stat(path)
        except OSError:  # named on the command line but missing: the tagger reports it
            plan.todo.append((path, 0, 0, None))
            continue
        row = rows.get(path)
        if row and (row.size, row.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            if row.status == TAGGED and row.id in done:
                plan.unchanged += 1
                continue
            if row.status == FAILED:  # the same bytes would fail the same way
                plan.still_failing.append((path, row.error or f"{path}: failed"))
                continue
        try:
            digest = audio_hash(path)
        except OSError:
            plan.todo.append((path, stat.st_size, stat.st_mtime_ns, None))
            continue
        twin = library.tagged_with_hash(digest, model_id, layer=embed, timeline=timeline)
        if twin is not None and twin.path != path:
            _reuse(
                library,
                twin,
                path,
                stat,
                digest,
                model_id,
                moved=twin.path not in found and not os.path.exists(twin.path),
            )
            plan.reused += 1
            continue
        if row and row.hash == digest and row.status == TAGGED and row.id in done:  # only its tags changed
            library.update_stat(row.id, size=stat.st_size, mtime_ns=stat.st_mtime_ns, hash=digest)
            plan.unchanged += 1
            continue
        if digest in planned:  # the same audio twice in one run: tagged once
            plan.twins.setdefault(planned[digest], []).append((path, stat.st_size, stat.st_mtime_ns, digest))
            continue
        planned[digest] = path
        if row and row.hash == digest:
            plan.same_content.add(path)
        plan.todo.append((path, stat.st_size, stat.st_mtime_ns, digest))
    gone = [
        path
        for path, row in library.files().items()
        if row.status != MISSING and path not in found and is_under(path, roots) and not os.path.exists(path)
    ]
    library.mark_missing(gone)
    plan.missing = len(gone)
    library.commit()
    return plan


def _reuse(library: Library, twin, path: str, stat: os.stat_result, digest: str, model_id: int, *, moved: bool) -> None:
    if moved:
        old = library.file_id(path)
        if old is not None and old != twin.id:  # a stale row for the new path gives way
            library.delete_file(old)
        library.move(twin.id, path, size=stat.st_size, mtime_ns=stat.st_mtime_ns)
        return
    file_id = library.set_file(
        path,
        size=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
        hash=digest,
        status=TAGGED,
        duration=library.duration(twin.id),
    )
    library.copy_result(twin.id, file_id, model_id)


class LibraryJob:
    """Tag the new and changed ``files`` into ``library`` with ``model`` (a model folder or an .onnx file).

    Planning happens on construction (``plan`` says what is to do); :meth:`run` tags and records
    the files, yielding each result once stored. ``roots`` are the folders scanned: rows under them
    whose file is gone are marked so.
    """

    def __init__(
        self,
        library: Library,
        model: str | os.PathLike,
        config: ModelConfig,
        files: list[str],
        *,
        roots: list[str],
        embed: str | None = None,
        timeline: bool = False,
    ):
        self.library, self.model, self.embed, self.timeline = library, model, embed, timeline
        self.model_id = library.model(
            config.name, model_fingerprint(model), list(config.labels), str(Path(model).resolve())
        )
        self.plan = plan_run(
            library,
            files,
            model_id=self.model_id,
            roots=[os.path.abspath(r) for r in roots],
            embed=embed,
            timeline=timeline,
        )
        self.tagged = self.failed = 0

    def run(self, *, workers: int = 0, commit_every: int = 32, **tagger_options) -> Iterator[TagResult | FileError]:
        """Tag the plan's files, after the unchanged files that failed before (their errors, as stored);
        the model is only loaded (:func:`~musictag.inference.factory.open_tagger` with
        ``tagger_options``: backend, device, hop, batch size, Ray) when there is anything to tag."""
        from musictag.inference.factory import open_tagger
        from musictag.inference.results import FileError

        library, plan = self.library, self.plan
        for path, error in plan.still_failing:
            self.failed += 1
            yield FileError(path, error)
        if not plan.todo:
            return
        tagger = open_tagger(self.model, **tagger_options)
        run_id = library.start_run(self.model_id)
        stats = {path: (size, mtime, digest) for path, size, mtime, digest in plan.todo}
        hop = tagger.hop_frames * tagger.frame_seconds
        uncommitted = 0
        results = tagger.tag_many(list(stats), embed=self.embed, workers=workers)
        for result in results:
            size, mtime, digest = stats[result.path]
            if isinstance(result, FileError):
                self.failed += 1
                library.set_file(result.path, size=size, mtime_ns=mtime, hash=digest, status=FAILED, error=result.error)
            else:
                self.tagged += 1
                file_id = library.set_file(
                    result.path, size=size, mtime_ns=mtime, hash=digest, status=TAGGED, duration=result.duration
                )
                library.put_result(
                    file_id,
                    self.model_id,
                    run_id,
                    scores=result.scores,
                    layer=self.embed,
                    embedding=result.embedding,
                    hop=hop,
                    timeline=result.taggram if self.timeline else None,
                    warnings=result.warnings,
                    keep=result.path in plan.same_content,
                )
            twins = self._fill_twins(result)
            uncommitted += 1
            if uncommitted >= commit_every:
                library.commit()
                uncommitted = 0
            yield result
            yield from twins
        library.finish_run(run_id, self.counts())

    def _fill_twins(self, result: TagResult | FileError) -> list[TagResult | FileError]:
        """Files with the same bytes as ``result``'s, found in this run, get its result (or its error);
        returns the result for each of them."""
        import dataclasses

        from musictag.inference.results import FileError

        source = self.library.file_id(result.path)
        out = []
        for path, size, mtime, digest in self.plan.twins.get(result.path, []):
            if isinstance(result, FileError):
                self.failed += 1
                out.append(FileError(path, result.error.replace(result.path, path)))
                self.library.set_file(path, size=size, mtime_ns=mtime, hash=digest, status=FAILED, error=out[-1].error)
                continue
            file_id = self.library.set_file(
                path, size=size, mtime_ns=mtime, hash=digest, status=TAGGED, duration=result.duration
            )
            self.library.copy_result(source, file_id, self.model_id)
            self.plan.reused += 1
            out.append(dataclasses.replace(result, path=path))
        return out

    def paths(self) -> list[str]:
        """The files :meth:`run` yields results for (a twin comes right after the file whose bytes it shares)."""
        todo = [path for path, *_ in self.plan.todo]
        twins = [twin for path in todo for twin, *_ in self.plan.twins.get(path, [])]
        return [path for path, _ in self.plan.still_failing] + todo + twins

    def counts(self) -> dict[str, int]:
        """What the run did: tagged, failed, unchanged, reused and missing files."""
        return {
            "tagged": self.tagged,
            "failed": self.failed,
            "unchanged": self.plan.unchanged,
            "reused": self.plan.reused,
            "missing": self.plan.missing,
        }

    def line(self) -> str:
        """The run in one line."""
        c = self.counts()
        return (
            f"{c['tagged']} tagged, {c['unchanged']} unchanged, {c['reused']} reused (same content elsewhere), "
            f"{c['failed']} failed, {c['missing']} gone"
        )


def describe_library(
    library: Library, names: tuple[str, ...], *, paths: Iterable[str] | None = None, commit_every: int = 32
) -> Iterator[tuple[str, dict[str, dict] | FileError]]:
    """Key and tempo (``names``) of the tagged files whose content has not had them yet (of ``paths``
    only, where given): ``(path, descriptors or the error)`` per file described now. Stored by content,
    so copies share them and a rerun describes nothing."""
    from musictag.describe import describe_file
    from musictag.errors import failure_line
    from musictag.inference.results import FileError

    wanted = None if paths is None else {os.path.abspath(p) for p in paths}
    done: set[str] = set()
    for count, row in enumerate(library.undescribed(names), start=1):
        if (wanted is not None and os.path.abspath(row.path) not in wanted) or row.hash in done:
            continue
        try:
            found = describe_file(row.path, names)
        except Exception as exc:  # a broken file must not stop the batch
            yield row.path, FileError(row.path, failure_line(row.path, exc))
            continue
        library.put_descriptors(row.hash, found)
        done.add(row.hash)
        if count % commit_every == 0:
            library.commit()
        yield row.path, found
    library.commit()
