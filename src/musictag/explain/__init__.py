"""Explanations: where a model's score comes from."""
