"""Synthetic training music: genre prompts (and, later, the audio they describe)."""
