"""Research harnesses above the library layers (as audiocraft keeps its ``grids/`` apart): they train
models, render audio and write result tables using the library, and nothing in the library imports them.

- :mod:`~musictag.studies.explanation_benchmark`: every explanation method against procedural ground truth.
- :mod:`~musictag.studies.synthetic_to_real`: the synthetic-to-real training study (modes, folds, plots).
"""
