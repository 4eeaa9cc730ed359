"""Every picture musictag draws: confusion matrices, embedding maps, spectrograms.

Plots take plain arrays (the computing happens where the data is) and are written atomically
as PNG. matplotlib is imported inside each function, only when a picture is drawn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from musictag.utils.atomic import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path, *, dpi: int) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    _pyplot().close(fig)


def confusion_png(confusion: list[list[int]], labels: list[str], path: str | Path) -> None:
    """Counts and row-normalised confusion matrices side by side (rows: true, columns: predicted)."""
    plt = _pyplot()
    counts = np.array(confusion, dtype=float)
    normalised = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, axes = plt.subplots(1, 2, figsize=(4 + 1.1 * len(labels), 2 + 0.5 * len(labels)))
    for ax, matrix, title, fmt in (
        (axes[0], counts, "counts", "{:.0f}"),
        (axes[1], normalised, "normalised", "{:.2f}"),
    ):
        ax.imshow(matrix, cmap="Blues")
        ax.set_title(title)
        ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        for (i, j), value in np.ndenumerate(matrix):
            color = "white" if value > matrix.max() / 2 else "black"
            ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=7, color=color)
    fig.tight_layout()
    _save(fig, path, dpi=110)


def embedding_png(
    panels: dict[str, tuple[np.ndarray, list[str], list[str]]], vocabulary: list[str], path: str | Path
) -> None:
    """One scatter panel per title of ``(points (n, 2), labels, domains)``: colour = label, marker =
    domain (``real`` as circles, anything else as triangles)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 5), squeeze=False)
    colours = {label: plt.cm.tab10(i % 10) for i, label in enumerate(vocabulary)}
    for ax, (title, (points, labels, domains)) in zip(axes[0], panels.items(), strict=True):
        for (px, py), label, domain in zip(points, labels, domains, strict=True):
            real = domain == "real"
            ax.scatter(px, py, color=colours[label], marker="o" if real else "^", s=14, alpha=0.9 if real else 0.5)
        ax.set_title(f"{title}: o real, ^ synthetic")
    handles = [plt.Line2D([], [], color=c, marker="o", linestyle="", label=g) for g, c in colours.items()]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    _save(fig, path, dpi=80)


def spectrogram_png(image: np.ndarray, seconds: float, path: str | Path, *, title: str, floor_db: float = 80.0) -> None:
    """A dB spectrogram ``(bands, frames)`` over ``seconds``, its top ``floor_db`` dB, with a colour bar."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3))
    shown = ax.imshow(
        image,
        origin="lower",
        aspect="auto",
        cmap="magma",
        vmin=image.max() - floor_db,
        extent=(0, seconds, 0, image.shape[0]),
    )
    fig.colorbar(shown, ax=ax, label="dB")
    ax.set(title=title, xlabel="seconds", ylabel="mel band")
    fig.tight_layout()
    _save(fig, path, dpi=80)


def relevance_png(
    mel: np.ndarray,
    relevance: np.ndarray,
    frame_seconds: float,
    over_time: np.ndarray,
    segment_seconds: float,
    path: str | Path,
    *,
    title: str,
) -> None:
    """The log-mel ``(frames, bands)`` in grey with positive relevance overlaid in colour, and relevance
    per time segment beneath it."""
    plt = _pyplot()
    seconds = len(mel) * frame_seconds
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5), sharex=True, height_ratios=(3, 1))
    extent = (0, seconds, 0, mel.shape[1])
    top.imshow(mel.T, origin="lower", aspect="auto", cmap="gray_r", extent=extent)
    positive = np.clip(relevance, 0, None).T
    peak = positive.max() or 1.0
    top.imshow(
        np.ma.masked_where(positive < 0.05 * peak, positive),
        origin="lower",
        aspect="auto",
        cmap="autumn_r",
        alpha=0.6,
        extent=extent,
        vmin=0,
        vmax=peak,
    )
    top.set(title=title, ylabel="mel band")
    starts = np.arange(len(over_time)) * segment_seconds
    bottom.bar(
        starts, over_time, width=segment_seconds, align="edge", color=np.where(over_time >= 0, "tab:red", "tab:blue")
    )
    bottom.axhline(0, color="black", linewidth=0.5)
    bottom.set(xlabel="seconds", ylabel="relevance")
    fig.tight_layout()
    _save(fig, path, dpi=80)


def taggram_png(
    taggram: np.ndarray,
    labels: list[str],
    patch_starts: np.ndarray,
    patch_seconds: float,
    path: str | Path,
    *,
    title: str,
    top: int = 10,
) -> None:
    """The ``top`` tags of a file (rows, best first) over time (columns: patches), darker is more."""
    plt = _pyplot()
    order = np.argsort(-taggram.mean(axis=0), kind="stable")[:top]
    end = float(patch_starts[-1] + patch_seconds) if len(patch_starts) else patch_seconds
    fig, ax = plt.subplots(figsize=(10, 0.35 * len(order) + 1.2))
    image = ax.imshow(
        taggram[:, order].T,
        aspect="auto",
        cmap="Greys",
        vmin=0,
        vmax=1,
        extent=(0, end, len(order) - 0.5, -0.5),
        interpolation="nearest",
    )
    ax.set_yticks(range(len(order)), [labels[i] for i in order])
    ax.set(title=title, xlabel="seconds")
    fig.colorbar(image, ax=ax, label="score", pad=0.01)
    fig.tight_layout()
    _save(fig, path, dpi=80)


def contributions_png(names: list[str], values: np.ndarray, path: str | Path, *, title: str, top: int = 15) -> None:
    """Horizontal bars of the ``top`` largest contributions (by size), positive red, negative blue."""
    plt = _pyplot()
    order = np.argsort(-np.abs(values), kind="stable")[:top][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(order) + 1.2))
    ax.barh([names[i] for i in order], values[order], color=np.where(values[order] >= 0, "tab:red", "tab:blue"))
    ax.axvline(0, color="black", linewidth=0.5)
    ax.set(title=title, xlabel="score drop when the feature is set to its training mean")
    fig.tight_layout()
    _save(fig, path, dpi=80)


def tcav_heatmap(
    grids: list[np.ndarray],
    marks: list[list[list[str]]],
    layers: list[str],
    concepts: list[str],
    targets: list[str],
    path: str | Path,
    *,
    title: str,
) -> None:
    """Concept x target TCAV scores, one panel per layer; a cell's mark says it is significant."""
    plt = _pyplot()
    width = 2 + 0.32 * len(targets)
    fig, axes = plt.subplots(
        len(layers), 1, figsize=(max(6.0, width), 1.2 + len(layers) * (0.9 + 0.3 * len(concepts))), squeeze=False
    )
    for ax, grid, mark, layer in zip(axes[:, 0], grids, marks, layers, strict=True):
        image = ax.imshow(grid, cmap="RdBu_r", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(targets)), targets, rotation=90, fontsize=7)
        ax.set_yticks(range(len(concepts)), concepts, fontsize=7)
        for i, row in enumerate(mark):
            for j, text in enumerate(row):
                if text:
                    ax.text(j, i, text, ha="center", va="center", fontsize=8, fontweight="bold")
        ax.set_title(f"{title}: layer {layer} (+/-: significant)", fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.02, pad=0.01)
    fig.tight_layout()
    _save(fig, path, dpi=110)


def presence_png(
    mel: np.ndarray,
    frame_seconds: float,
    starts: list[float],
    patch_seconds: float,
    probability: list[float],
    path: str | Path,
    *,
    title: str,
) -> None:
    """The log-mel, and beneath it a concept's probability per patch (at the patch's centre)."""
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5), sharex=True, height_ratios=[2, 1])
    seconds = len(mel) * frame_seconds
    top.imshow(mel.T, origin="lower", aspect="auto", cmap="magma", extent=(0, seconds, 0, mel.shape[1]))
    top.set_ylabel("mel band")
    top.set_title(title, fontsize=9)
    centres = np.asarray(starts) + patch_seconds / 2
    bottom.plot(centres, probability, marker=".")
    bottom.axhline(0.5, color="grey", lw=0.8, ls="--")
    bottom.set_ylim(-0.02, 1.02)
    bottom.set_xlim(0, max(seconds, float(centres[-1]) if len(centres) else 0))
    bottom.set_xlabel("seconds")
    bottom.set_ylabel("concept probability")
    fig.tight_layout()
    _save(fig, path, dpi=100)
