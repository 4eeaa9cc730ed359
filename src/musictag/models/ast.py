"""The Audio Spectrogram Transformer (Gong et al., 2021) through ``transformers``.

The wrapper feeds musictag's log-mel patches (the ``ast`` front end: 16 kHz, 25 ms windows
every 10 ms, 128 mel bands, natural log) to ``ASTForAudioClassification`` after the AST
feature extractor's normalisation. It differs from the extractor's Kaldi filterbank only in
what musictag's front end does not do (pre-emphasis, DC removal, Kaldi's mel triangles), so
pretrained weights see nearly, not exactly, the features they were trained on.

Weights come from a local directory or a hub id (``from_pretrained``) when a user has them;
a model folder stores the AST config itself, so loading a trained model needs no hub.
"""

from __future__ import annotations

import torch
from torch import nn

from musictag.errors import ParameterError

#: AudioSet statistics the AST feature extractor normalises with.
AST_MEAN, AST_STD = -4.2677393, 4.5689974


def _transformers():
    try:
        import transformers
    except ImportError:
        raise ParameterError("the AST needs the 'transformers' package: pip install 'musictag[ast]'") from None
    return transformers


class AST(nn.Module):
    """``ASTForAudioClassification`` on log-mel patches ``(batch, max_length, num_mel_bins)``.

    Parameters
    ----------
    n_classes : int
        Outputs of the classification head.
    config : dict
        An ``ASTConfig`` as a dict (saved in model folders). Ignored when ``pretrained`` is given.
    pretrained : str, optional
        Local directory or hub id to load weights from; the classifier is replaced to fit
        ``n_classes``.
    freeze : {"none", "backbone"}
        ``backbone`` trains only the new classification head (ast-gtzan-finetuning).
    """

    def __init__(
        self,
        *,
        n_classes: int,
        config: dict | None = None,
        pretrained: str | None = None,
        freeze: str = "none",
        mean: float = AST_MEAN,
        std: float = AST_STD,
    ):
        super().__init__()
        transformers = _transformers()
        if pretrained:
            try:
                self.ast = transformers.ASTForAudioClassification.from_pretrained(
                    pretrained, num_labels=n_classes, ignore_mismatched_sizes=True
                )
            except OSError as exc:  # no such directory, and the hub unreachable or without it
                first = str(exc).strip().splitlines()[0]
                raise ParameterError(f"cannot load AST weights from {pretrained!r}: {first}") from None
        else:
            settings = {**(config or {}), "num_labels": n_classes}
            settings.pop("id2label", None), settings.pop("label2id", None)
            self.ast = transformers.ASTForAudioClassification(transformers.ASTConfig(**settings))
        if freeze not in ("none", "backbone"):
            raise ParameterError(f"freeze must be 'none' or 'backbone', got {freeze!r}")
        if freeze == "backbone":
            self.ast.audio_spectrogram_transformer.requires_grad_(False)
        self.freeze = freeze
        self.mean, self.std = mean, std
        self.embedding_dims = {"penultimate": self.ast.config.hidden_size}
        self.input_frames = self.ast.config.max_length  # the position embeddings fix the patch length

    def model_config(self) -> dict:
        """Settings that rebuild this model without the hub (for the model folder)."""
        config = self.ast.config.to_dict()
        for key in ("id2label", "label2id", "transformers_version", "architectures", "_name_or_path"):
            config.pop(key, None)
        return {"config": config, "freeze": self.freeze, "mean": self.mean, "std": self.std}

    def train(self, mode: bool = True) -> AST:
        """Switch training mode on or off; the frozen backbone stays in evaluation mode."""
        super().train(mode)
        if self.freeze == "backbone":  # frozen layers keep inference behaviour (no dropout)
            self.ast.audio_spectrogram_transformer.eval()
        return self

    def forward_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every named layer's output for patches ``x`` ``(batch, frames, n_mels)``, ``logits`` included."""
        values = (x - self.mean) / (2 * self.std)  # the AST feature extractor's normalisation
        outputs = self.ast.audio_spectrogram_transformer(values)
        pooled = outputs.pooler_output  # mean of the [CLS] and distillation tokens
        return {"logits": self.ast.classifier(pooled), "penultimate": pooled}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits for patches ``x`` ``(batch, frames, n_mels)``."""
        return self.forward_features(x)["logits"]
