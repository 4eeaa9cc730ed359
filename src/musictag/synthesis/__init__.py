"""Synthetic training music: genre prompts (grammar or a language model), the procedural composer and
renderer, MusicGen, and clip generation with manifests."""
