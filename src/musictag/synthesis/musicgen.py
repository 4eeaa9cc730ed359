"""The MusicGen backend (Copet et al., 2023) through ``transformers``: text prompts to audio.

Weights come from a local directory or a hub id (``facebook/musicgen-small|medium|large``)
when a user has them; generation runs batched on a GPU when there is one. The output (32 kHz
for the published models) is down-mixed and resampled to the requested rate with soxr.
"""

from __future__ import annotations

import numpy as np
import soxr
import torch

from musictag.errors import ParameterError


class MusicGen:
    """Text-to-music with a MusicGen model.

    Parameters
    ----------
    model : str or ``MusicgenForConditionalGeneration``
        A directory or hub id, or a model object (tests build tiny random ones from a config).
    tokenizer : callable, optional
        Text tokenizer for a model object (``from_pretrained`` loads the model's own).
    device : str, optional
        ``cuda`` when available, else ``cpu``.
    guidance_scale : float
        Classifier-free guidance (3.0 as in the MusicGen paper; 1.0 turns it off).
    """

    def __init__(self, model, *, tokenizer=None, device: str | None = None, guidance_scale: float = 3.0):
        if isinstance(model, str):
            try:
                from transformers import AutoProcessor, MusicgenForConditionalGeneration
            except ImportError:
                raise ParameterError("the MusicGen backend needs 'transformers': pip install 'musictag[ast]'") from None
            try:
                tokenizer = AutoProcessor.from_pretrained(model)
                model = MusicgenForConditionalGeneration.from_pretrained(model)
            except OSError as exc:
                first = str(exc).strip().splitlines()[0]
                raise ParameterError(f"cannot load MusicGen from {model!r}: {first}") from None
        if tokenizer is None:
            raise ParameterError("a MusicGen model object needs its tokenizer")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model, self.tokenizer = model.to(self.device).eval(), tokenizer
        self.guidance_scale = guidance_scale
        self.native_rate = int(model.config.audio_encoder.sampling_rate)
        self.frame_rate = float(model.config.audio_encoder.frame_rate)

    def generate(self, prompts: list[str], *, duration: float, sample_rate: int, seed: int = 0) -> list[np.ndarray]:
        """One mono float32 clip of exactly ``duration`` seconds at ``sample_rate`` per prompt."""
        inputs = self.tokenizer(text=prompts, padding=True, return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in inputs.items() if k in ("input_ids", "attention_mask")}
        torch.manual_seed(seed)
        with torch.inference_mode():
            audio = self.model.generate(
                **inputs,
                do_sample=True,
                guidance_scale=self.guidance_scale,
                max_new_tokens=int(np.ceil(duration * self.frame_rate)) + 1,
            )
        clips = []
        length = round(duration * sample_rate)
        for row in audio.float().mean(dim=1).cpu().numpy():  # (batch, channels, samples) -> mono
            clip = soxr.resample(row, self.native_rate, sample_rate).astype(np.float32)
            clip = np.pad(clip[:length], (0, max(0, length - len(clip))))
            peak = float(np.abs(clip).max())
            clips.append(clip * (0.89 / peak) if peak > 0 else clip)
        return clips
