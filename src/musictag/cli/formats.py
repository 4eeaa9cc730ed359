"""Render tagging results as a table, CSV, JSON or JSON lines."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from musictag.inference.results import FileError, TagResult

FORMATS = ("table", "csv", "json", "jsonl")
CSV_COLUMNS = ("path", "duration", "model", "start", "end", "tag", "score", "error")


class ResultWriter:
    """Writes results one at a time; ``close`` finishes formats that need the whole list."""

    def __init__(self, stream: TextIO, fmt: str, *, top_k: int, timeline: bool, describe: tuple[str, ...] = ()):
        self.stream, self.fmt, self.top_k, self.timeline = Escaped(stream), fmt, top_k, timeline
        self.describe = describe  # CSV: a value and a confidence column each, on every row of the file
        self._items: list[dict] = []
        self._csv = None
        if fmt == "csv":
            self._csv = csv.writer(self.stream, lineterminator="\n")
            self._csv.writerow(CSV_COLUMNS + tuple(f"{n}{suffix}" for n in describe for suffix in ("", "_confidence")))

    def write(self, result: TagResult | FileError) -> None:
        """Write one file's result (or its error) in the chosen format."""
        record = result.to_dict(top_k=self.top_k, timeline=self.timeline)
        if self.fmt == "json":
            self._items.append(record)
        elif self.fmt == "jsonl":
            self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        elif self.fmt == "csv":
            self._write_csv(record)
        else:
            self.stream.write(format_table(record))
        self.stream.flush()

    def _write_csv(self, record: dict) -> None:
        if "error" in record:
            self._csv.writerow([record["path"], "", "", "", "", "", "", record["error"]])
            return
        head = [record["path"], record["duration"], record["model"]]
        tail = [
            record[n][key] if record[n][key] is not None else ""
            for n in self.describe
            for key in ("value", "confidence")
        ]
        for row in record["tags"]:
            self._csv.writerow(head + ["", "", row["tag"], row["score"], ""] + tail)
        for segment in record.get("timeline", []):
            for row in segment["tags"]:
                self._csv.writerow(head + [segment["start"], segment["end"], row["tag"], row["score"], ""] + tail)

    def close(self) -> None:
        """Finish the output (JSON's closing bracket) and flush it."""
        if self.fmt == "json":
            json.dump(self._items, self.stream, indent=2, ensure_ascii=False)
            self.stream.write("\n")
        self.stream.flush()


class Escaped:
    """A text stream that writes file names which are not valid UTF-8 (``caf\\xe9.wav``, decoded
    with surrogates) as ``\\udce9`` escapes: readable, and in JSON the escape reads back as the name."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        """Write ``text`` with undecodable bytes escaped."""
        return self._stream.write(text.encode("utf-8", "backslashreplace").decode("utf-8"))

    def flush(self) -> None:
        """Flush the stream underneath."""
        self._stream.flush()


def format_table(record: dict) -> str:
    """A readable block for one file: header, then one tag per line with a score bar."""
    out = io.StringIO()
    if "error" in record:
        out.write(f"{record['path']}\n  error: {record['error']}\n\n")
        return out.getvalue()
    out.write(f"{record['path']}  ({record['duration']:.1f} s, {record['model']})\n")
    described = [(name, record[name]) for name in ("key", "bpm") if name in record]
    if described:
        out.write(
            "  "
            + "   ".join(
                f"{name} {found['value'] if found['value'] is not None else 'unknown'}"
                + (f" (confidence {found['confidence']:.2f})" if found["value"] is not None else "")
                for name, found in described
            )
            + "\n"
        )
    width = max((len(r["tag"]) for r in record["tags"]), default=0)
    for row in record["tags"]:
        bar = "#" * round(row["score"] * 20)
        out.write(f"  {row['tag']:<{width}}  {row['score']:.3f}  {bar}\n")
    for segment in record.get("timeline", []):
        tags = ", ".join(f"{r['tag']} {r['score']:.2f}" for r in segment["tags"])
        out.write(f"  {segment['start']:8.2f}-{segment['end']:<8.2f} {tags}\n")
    out.write("\n")
    return out.getvalue()
