"""Metrics and reports for single-label classifiers and multi-label taggers."""
