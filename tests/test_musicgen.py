"""The MusicGen backend with a tiny randomly initialised model built from a config (no hub)."""

import numpy as np
import pytest
import soundfile as sf

from musictag.cli.main import main
from musictag.data import open_dataset
from musictag.synthesis.backends import MusicGenBackend
from musictag.synthesis.generate import synthesize
from musictag.synthesis.musicgen import MusicGen

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")


@pytest.fixture(scope="module")
def tiny_musicgen():
    import torch

    torch.manual_seed(0)
    words = ["[PAD]", "[UNK]", "a", "lively", "rock", "song", "calm", "jazz", "tune", "with", "piano"]
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]")
    text = transformers.T5Config(vocab_size=16, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2)
    config = transformers.MusicgenConfig(
        text_encoder=text.to_dict(),
        audio_encoder=transformers.EncodecConfig(
            sampling_rate=16000,
            num_filters=4,
            hidden_size=16,
            upsampling_ratios=[8, 5, 4],
            codebook_size=32,
            num_residual_layers=1,
            num_lstm_layers=1,
            codebook_dim=16,
            target_bandwidths=[2.0],
        ).to_dict(),
        decoder=transformers.MusicgenDecoderConfig(
            vocab_size=32,
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            ffn_dim=32,
            num_codebooks=2,
            pad_token_id=32,
            bos_token_id=32,
            max_position_embeddings=512,
        ).to_dict(),
    )
    model = transformers.MusicgenForConditionalGeneration(config)
    model.generation_config.update(decoder_start_token_id=32, pad_token_id=32, bos_token_id=32)
    return MusicGen(model, tokenizer=tokenizer, device="cpu", guidance_scale=1.0)


def test_clips_have_the_asked_length_and_rate(tiny_musicgen):
    clips = tiny_musicgen.generate(["a lively rock song", "calm jazz tune with piano"], duration=1.0, sample_rate=22050)
    assert [c.shape for c in clips] == [(22050,), (22050,)]
    assert all(np.isfinite(c).all() and 0 < np.abs(c).max() <= 0.9 for c in clips)
    again = tiny_musicgen.generate(["a lively rock song", "calm jazz tune with piano"], duration=1.0, sample_rate=22050)
    np.testing.assert_allclose(again[0], clips[0], atol=1e-5)  # same seed, same clip


def test_musicgen_backend_writes_clips_and_a_manifest(tiny_musicgen, tmp_path):
    records = [
        {"id": f"r{n}", "genre": g, "prompt": f"a lively {g} song", "seed": n}
        for n, g in enumerate(("rock", "jazz", "rock"))
    ]
    report = synthesize(
        records, tmp_path, backend=MusicGenBackend(tiny_musicgen, batch_size=2), duration=0.5, sample_rate=16000
    )
    assert report.made == 3 and not report.failed
    data = open_dataset(str(tmp_path / "manifest.csv"))
    assert len(data) == 3 and sf.info(data.items[0].path).samplerate == 16000
    assert "musicgen" in (tmp_path / "manifest.csv").read_text()


def test_unreachable_model_is_a_one_line_error(tmp_path, capsys):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"genre": "rock", "prompt": "a rock song", "seed": 0}\n')
    args = [
        "synth",
        "audio",
        "--prompts",
        str(prompts),
        "--backend",
        "musicgen",
        "--model",
        str(tmp_path / "nope"),
        "--out",
        str(tmp_path / "out"),
    ]
    assert main(args) == 1
    assert "cannot load MusicGen from" in capsys.readouterr().err
