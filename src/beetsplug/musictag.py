"""musictag for beets: tag scores, top tags, key and tempo from the audio, as beets fields.

Enable with ``plugins: musictag`` in beets' config (``pip install 'musictag[beets]'``). ``beet musictag
[QUERY]`` tags the matching items; with ``auto: yes`` (the default) every ``beet import`` does. The work
goes through musictag's library database (``db``, default ``musictag.db`` beside beets' library), so a
rerun on unchanged files is instant and ``musictag tag --db`` shares it. Fields:

- ``musictag_<tag>``: each tag's score (0-1, a float: ``beet ls musictag_rock:0.5..``);
- ``musictag_tags``: the ``top_k`` best tags scoring at least ``threshold``, best first, comma-separated
  (written into the files as ``MUSICTAG_TAGS``, as ``musictag library write-tags`` does);
- ``musictag_key`` / ``musictag_key_confidence``, ``musictag_bpm`` / ``musictag_bpm_confidence``;
- only where configured, beets' own ``genre`` (the best of ``genre.tags`` at ``genre.threshold`` or more,
  ``genre.only_empty``: only where an item has none), ``bpm`` and ``initial_key``.

A file that cannot be read is reported on one line and the others go on.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

import mediafile
from beets import ui
from beets.dbcore import types
from beets.plugins import BeetsPlugin

if TYPE_CHECKING:
    import optparse

    from beets.importer import ImportSession, ImportTask
    from beets.library import Item, Library

PREFIX = "musictag_"
_DESCRIBED = ("key", "bpm")


def field_name(tag: str) -> str:
    """The beets field of a tag's score: ``female vocal`` -> ``musictag_female_vocal``."""
    return PREFIX + (re.sub(r"[^0-9a-z]+", "_", tag.lower()).strip("_") or "tag")


def beets_key(key: str) -> str:
    """musictag's ``"A minor"`` as beets' ``initial_key`` (``"Am"``; ``"C#"`` for C# major)."""
    tonic, mode = key.split()
    return tonic + ("m" if mode == "minor" else "")


class MusictagPlugin(BeetsPlugin):
    """The ``musictag`` command and import stage."""

    def __init__(self) -> None:
        super().__init__()
        self.config.add(
            {
                "models": ["mtt-musicnn"],
                "db": "",
                "auto": True,
                "top_k": 5,
                "threshold": 0.0,
                "describe": list(_DESCRIBED),
                "backend": "",
                "genre": {"enabled": False, "threshold": 0.3, "only_empty": True, "tags": []},
                "bpm": False,
                "initial_key": False,
            }
        )
        self.add_media_field(
            "musictag_tags",
            mediafile.MediaField(
                mediafile.MP3DescStorageStyle("MUSICTAG_TAGS"),
                mediafile.MP4StorageStyle("----:org.musictag:TAGS"),
                mediafile.StorageStyle("MUSICTAG_TAGS"),
                mediafile.ASFStorageStyle("musictag/TAGS"),
            ),
        )
        if self.config["auto"].get(bool):
            self.import_stages = [self.imported]
            self.register_listener("import_task_files", self.write_imported)

    # -- configuration ---------------------------------------------------------------------
    def _models(self) -> list[str]:
        models = self.config["models"].as_str_seq()
        if not models:
            raise ui.UserError("musictag: configure at least one model (musictag.models)")
        return models

    def _describe(self) -> tuple[str, ...]:
        from musictag.describe import parse_descriptors

        return parse_descriptors(",".join(self.config["describe"].as_str_seq()))

    def _db(self) -> str:
        import beets

        configured = self.config["db"].as_str()
        if configured:
            return os.path.expanduser(configured)
        return os.path.join(os.path.dirname(beets.config["library"].as_filename()), "musictag.db")

    @property
    def item_types(self) -> dict[str, types.Type]:
        """Every tag score, bpm and confidence is a float, so range queries work."""
        out = {field_name(tag): types.FLOAT for model in self._models() for tag in _labels(model)}
        out.update({f"{PREFIX}bpm": types.FLOAT, f"{PREFIX}key_confidence": types.FLOAT})
        out[f"{PREFIX}bpm_confidence"] = types.FLOAT
        return out

    # -- the command and the import stage -------------------------------------------------
    def commands(self) -> list[ui.Subcommand]:
        """``beet musictag [-w|-W] [QUERY]``."""
        command = ui.Subcommand("musictag", help="tag items with musictag: tag scores, top tags, key and tempo")
        command.parser.add_option("-w", "--write", action="store_true", default=None, help="write the files' tags")
        command.parser.add_option(
            "-W", "--nowrite", action="store_false", dest="write", help="only the database, not the files"
        )
        command.func = self.command
        return [command]

    def command(self, lib: Library, opts: optparse.Values, args: list[str]) -> None:
        """Tag what the query matches."""
        self.tag_items(list(lib.items(args)), write=ui.should_write(opts.write))

    def imported(self, session: ImportSession, task: ImportTask) -> None:
        """Tag what was just imported (beets writes the files afterwards, as its config says)."""
        self.tag_items(list(task.imported_items()), write=False)

    def write_imported(self, session: ImportSession, task: ImportTask) -> None:
        """After the files are in place: write ours where beets does not (it writes autotagged items only)."""
        import beets

        if beets.config["import"]["write"].get(bool) and not task.apply:
            for item in task.imported_items():
                if item.get("musictag_tags") is not None:
                    item.try_write()

    def tag_items(self, items: list[Item], *, write: bool) -> None:
        """Tag ``items`` through musictag's library database and store the fields (write the files if asked)."""
        from musictag.errors import MusictagError

        if not items:
            return
        try:
            found = self._run(items)
        except MusictagError as exc:  # a model that cannot load, a database of another application
            raise ui.UserError(f"musictag: {exc}") from None
        changed = 0
        for item in items:
            tagged = found.get(os.path.abspath(os.fsdecode(item.path)))
            if tagged is None:
                continue
            fields, scores = tagged
            fields.update(self._beets_fields(item, fields, scores))
            if all(item.get(name) == value for name, value in fields.items()):
                continue  # a rerun on unchanged files touches nothing
            item.update(fields)
            if write:
                item.try_write()
            item.store()
            changed += 1
        self._log.info("{} of {} items updated", changed, len(items))

    def _run(self, items: list[Item]) -> dict[str, tuple[dict, dict[str, float]]]:
        """Tag and describe the items' files: by absolute path, their musictag fields and tag scores."""
        from musictag.inference.factory import model_files
        from musictag.inference.results import FileError
        from musictag.library.database import Library
        from musictag.library.job import LibraryJob, describe_library
        from musictag.library.service import Track
        from musictag.utils.progress import progress

        paths = [os.path.abspath(os.fsdecode(item.path)) for item in items]
        wanted = set(paths)
        backend = self.config["backend"].as_str() or None
        top_k, threshold = self.config["top_k"].get(int), self.config["threshold"].as_number()
        out: dict[str, tuple[dict, dict[str, float]]] = {}
        with Library(self._db()) as library:
            for model in reversed(self._models()):  # the first model's fields win where tags share a name
                folder, config = model_files(model, backend=backend)
                job = LibraryJob(library, folder, config, paths, roots=[])
                with progress(len(job.paths()), quiet=False, desc=f"musictag {config.name}") as bar:
                    for result in job.run(backend=backend):
                        if isinstance(result, FileError):
                            self._log.error("{}", result.error)
                        bar.update(1)
                library.commit()
                self._log.info("{}: {}", config.name, job.line())
                row = next(m for m in library.models() if m.id == job.model_id)
                for file_id, path, row_scores in zip(*library.score_matrix(row), strict=True):
                    if os.path.abspath(path) not in wanted:
                        continue
                    fields, named = out.setdefault(os.path.abspath(path), ({}, {}))
                    named.update({t: round(float(s), 4) for t, s in zip(config.labels, row_scores, strict=True)})
                    fields.update({field_name(t): s for t, s in named.items()})
                    top = Track(file_id, path, row_scores, config.labels).top(top_k or None)
                    fields[f"{PREFIX}tags"] = ", ".join(tag for tag, score in top if score >= threshold)
                    fields[f"{PREFIX}model"] = config.name
            names = self._describe()
            if names:
                for _, described in describe_library(library, names, paths=paths):
                    if isinstance(described, FileError):
                        self._log.error("{}", described.error)
                rows = library.files()
                for path, (fields, _) in out.items():
                    stored = rows.get(path)
                    for name, value in library.descriptors(stored.hash).items() if stored and stored.hash else ():
                        if value["value"] is not None:
                            fields[f"{PREFIX}{name}"] = value["value"]
                            fields[f"{PREFIX}{name}_confidence"] = value["confidence"]
        return out

    def _beets_fields(self, item: Item, fields: dict, scores: dict[str, float]) -> dict:
        """beets' own genre, bpm and initial_key, where configured."""
        out = {}
        genre = self.config["genre"]
        if genre["enabled"].get(bool) and not (
            genre["only_empty"].get(bool) and (item.get("genre") or item.get("genres"))
        ):
            allowed = set(genre["tags"].as_str_seq())
            scored = {tag: score for tag, score in scores.items() if not allowed or tag in allowed}
            if scored:
                best = max(scored, key=scored.get)
                if scored[best] >= genre["threshold"].as_number():
                    out["genre"] = best.title()
                    if "genres" in type(item)._fields:  # beets 2.x writes the list to the files
                        out["genres"] = [out["genre"]]
        if self.config["bpm"].get(bool) and f"{PREFIX}bpm" in fields:
            out["bpm"] = round(fields[f"{PREFIX}bpm"])
        if self.config["initial_key"].get(bool) and f"{PREFIX}key" in fields:
            out["initial_key"] = beets_key(fields[f"{PREFIX}key"])
        return out


def _labels(model: str) -> tuple[str, ...]:
    """A model's tags without loading it (the catalog's for pretrained names, else its config)."""
    from musictag.pretrained.catalog import PRETRAINED

    if model in PRETRAINED:
        return tuple(PRETRAINED[model].labels)
    try:
        from musictag.inference.factory import model_files

        return tuple(model_files(model)[1].labels)
    except Exception:  # a model that cannot be read yet: the command says why when it runs
        return ()
