"""Evaluation: metrics, scoring a model on data-set items, and written reports."""
