"""Inference: the Tagger that runs one model over files (tags, taggrams, embeddings) and its typed results."""
