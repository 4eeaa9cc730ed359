"""Which attribution methods are offered freely: their measured figures on real recordings.

Kept apart from :mod:`musictag.explain.relevance` (torch, captum) so that ``--help`` and the web form
can show the figures without importing them.
"""

from __future__ import annotations

METHODS = ("integrated-gradients", "gradcam", "occlusion", "lime", "kernel-shap")
DEFAULT_METHOD = "integrated-gradients"  # the best on real splices (see VALIDATED)
#: Segment ROC-AUC on A-B-A splices of real recordings (mtt-musicnn, the file's score; 2026-12-07,
#: ``musictag explain benchmark --real gtzan:DIR``: 50 splices; LIME and KernelSHAP ``--method M --quick``,
#: 10 splices, 13 min each: too slow for the 15-minute benchmark at 50).
REAL_AUC = {"integrated-gradients": 0.945, "gradcam": 0.932, "occlusion": 0.917, "lime": 0.947, "kernel-shap": 0.920}
REAL_SPLICES = {"lime": 10, "kernel-shap": 10}  # the others: 50
#: offered freely: 0.9 or more on the full benchmark's 50 splices
VALIDATED = tuple(m for m, auc in REAL_AUC.items() if auc >= 0.9 and REAL_SPLICES.get(m, 50) >= 50)


def method_note(method: str) -> str:
    """Why ``method`` needs ``--unvalidated``: its real-splice figure."""
    auc, splices = REAL_AUC[method], REAL_SPLICES.get(method, 50)
    if auc < 0.9:
        return f"{method} scored {auc:.3f} segment ROC-AUC on real splices, under 0.9"
    return f"{method} scored {auc:.3f} segment ROC-AUC on only {splices} real splices (the offered methods: 50)"


def method_help() -> str:
    """The ``--method`` help: every method's real-splice figure, the validated ones first."""

    def figure(method: str) -> str:
        splices = REAL_SPLICES.get(method)
        return f"{method} {REAL_AUC[method]:.3f}" + (f" ({splices} splices)" if splices else "")

    unvalidated = [m for m in METHODS if m not in VALIDATED]
    text = (
        "captum attribution method. Segment ROC-AUC on A-B-A splices of real recordings (mtt-musicnn, "
        f"2026-12-07, 50 splices): {', '.join(figure(m) for m in VALIDATED)} ({DEFAULT_METHOD} the default)"
    )
    if unvalidated:
        text += f"; only with --unvalidated (under 0.9, or fewer splices): {', '.join(figure(m) for m in unvalidated)}"
    return text
