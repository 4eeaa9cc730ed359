"""Pretrained weights: the musicnn catalogue, reading TensorFlow checkpoints, conversion, and the
store that finds, fetches and caches them (and resolves a model name to its folder)."""
