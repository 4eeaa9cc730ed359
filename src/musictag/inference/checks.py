"""What makes a file's scores less trustworthy: one line each (torch and ONNX taggers share these)."""

from __future__ import annotations

#: What each warning of :func:`file_warnings` says about a file, to summarise many in one line.
KINDS = {
    "digital silence": "digital silence; the scores say nothing about the music",
    "is shorter than one": "shorter than one patch; scored on the clip repeated to fill it",
    "is longer than the file": "shorter than the hop; only the first patch scored",
}


def warning_kind(warning: str) -> str:
    """The kind of a warning made by :func:`file_warnings` (the warning itself for any other)."""
    return next((kind for key, kind in KINDS.items() if key in warning), warning)


def file_warnings(
    path: str, *, duration: float, peak: float, patch_seconds: float, hop_seconds: float, patches: bool = True
) -> list[str]:
    """Digital silence; for patch-based models also a file shorter than a patch or than the hop."""
    found = []
    if peak == 0:
        found.append(f"{path}: digital silence; the scores say nothing about the music")
    if not patches:
        return found
    if duration < patch_seconds:
        found.append(
            f"{path}: {duration:.2f} s is shorter than one {patch_seconds:.2f} s patch; "
            "scored on the clip repeated to fill it"
        )
    elif hop_seconds > duration:
        found.append(
            f"{path}: the hop ({hop_seconds:.2f} s) is longer than the file ({duration:.2f} s); "
            "only its first patch is scored"
        )
    return found
