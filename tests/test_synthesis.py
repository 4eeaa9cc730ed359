"""The procedural generator: reproducible arrangements that follow the prompt, rendering, resumable runs."""

import sys

import numpy as np
import pytest
import soundfile as sf

from musictag.cli.main import main
from musictag.data import open_dataset
from musictag.errors import ParameterError
from musictag.synthesis.backends import ProceduralBackend
from musictag.synthesis.compose import chord_pitches, compose, to_midi
from musictag.synthesis.generate import synthesize
from musictag.synthesis.styles import STYLES

pytest.importorskip("tinysoundfont")
pytest.importorskip("pedalboard")


def test_chords_from_roman_numerals():
    assert chord_pitches("I", 0, "triad") == (0, [0, 4, 7])
    assert chord_pitches("vi", 0, "triad") == (9, [0, 3, 7])
    assert chord_pitches("V7", 2, "triad") == (9, [0, 4, 7, 10])
    assert chord_pitches("bVII5", 0, "triad") == (10, [0, 7, 12])
    assert chord_pitches("ii7", 0, "ninth") == (2, [0, 3, 7, 10, 14])


def test_arrangement_is_reproducible_and_follows_the_prompt():
    prompt = "A fast, aggressive metal piece with a seven-string guitar in the lead over a thundering bass."
    first, again = compose("metal", prompt, 7), compose("metal", prompt, 7)
    assert [(n.pitch, n.start) for n in first.notes] == [(n.pitch, n.start) for n in again.notes]
    assert compose("metal", prompt, 8).notes != first.notes
    low, high = STYLES["metal"].tempo["fast"]
    assert low <= first.bpm <= high and first.mode == "minor" and first.programs["comp"] == 30
    calm = compose("classical", "A serene, slow classical piece for a string quartet.", 1)
    assert calm.bpm <= STYLES["classical"].tempo["slow"][1] and calm.mode == "major"
    assert not any(n.role == "drums" for n in calm.notes)  # no drum kit in the classical style
    midi = to_midi(first)
    assert [i.name for i in midi.instruments] == ["bass", "comp", "lead", "drums", "voice"]
    assert midi.instruments[3].is_drum
    assert first.programs["drums"] in STYLES["metal"].programs["drums"]  # a drum kit of the style
    # the instrument the prompt names first wins its role; a specific phrase beats the word inside it
    for order, lead in (("a wailing harmonica and a slide guitar", 22), ("a slide guitar and a wailing harmonica", 25)):
        assert compose("blues", f"An instrumental blues with {order}.", 0).programs["lead"] == lead
    pad = compose("pop", "A pop song with a warm synth pad, a synth bass and a bright synth.", 0).programs
    assert (pad["comp"], pad["bass"], pad["lead"]) == (89, 38, 81)
    brushed = compose("jazz", "A mellow jazz tune with a brushed drum kit and a muted trumpet.", 2)
    assert brushed.programs["drums"] == 40 and to_midi(brushed).instruments[3].program == 40  # GM's brush kit


def test_prompt_decides_sung_rapped_or_instrumental():
    def voice(genre, prompt, seed=0):
        clip = compose(genre, prompt, seed)
        return clip.vocal, [n for n in clip.notes if n.role == "voice"], [n for n in clip.notes if n.role == "lead"]

    vocal, sung, lead = voice("country", "A heartfelt country song with a twangy male vocal over a banjo.")
    assert vocal == "sung" and len(sung) > 4 and not lead  # the singer carries the melody
    assert min(n.pitch for n in sung) >= 45 and max(n.pitch for n in sung) <= 84
    # a lead the prompt names answers the singer: voice in the first half of each 4-bar phrase, lead in the second
    clip = compose("blues", "A slow blues with a soulful singer and a wailing harmonica in the lead.", 0)
    bar = 4 * 60 / clip.bpm
    halves = {
        role: {int(round(n.start / bar * 8) / 8 // 2 % 2) for n in clip.notes if n.role == role}
        for role in ("voice", "lead")
    }
    assert clip.vocal == "sung" and clip.programs["lead"] == 22 and halves == {"voice": {0}, "lead": {1}}
    vocal, rap, _ = voice("hiphop", "A dark hiphop track with a rapid-fire MC over boom-bap drums.")
    starts = np.array([n.start for n in rap])
    assert vocal == "rap" and np.median(np.diff(starts)) < 0.25  # syllables on sixteenths
    for genre in ("hiphop", "pop", "metal"):
        assert all(voice(genre, f"An upbeat instrumental {genre} tune.", seed)[0] == "" for seed in range(5))
    assert all(voice("classical", "A calm classical piece for strings.", seed)[0] == "" for seed in range(5))
    assert all(voice("pop", "A pop song with a sing-along melody.", seed)[0] == "sung" for seed in range(20))


def test_swing_delays_off_beat_eighths():
    jazz = compose("jazz", "a medium swinging jazz tune", 3)
    beat = 60 / jazz.bpm
    ride = sorted(n.start for n in jazz.notes if n.role == "drums" and n.pitch == 51)
    phases = np.array([(t / beat) % 1 for t in ride])
    off = phases[(phases > 0.3) & (phases < 0.9)]
    assert off.size and np.median(off) > 0.6  # straight eighths would sit at 0.5


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    records = [
        {"id": f"{g}-{n}", "genre": g, "prompt": f"a lively {g} tune", "seed": 10 * n + i}
        for i, g in enumerate(("rock", "reggae"))
        for n in range(2)
    ]
    report = synthesize(records, out, backend=ProceduralBackend(workers=2), duration=3.0, sample_rate=16000)
    return out, records, report


def test_clips_manifest_is_a_dataset(clips):
    out, records, report = clips
    assert report.made == 4 and not report.failed
    data = open_dataset(str(out / "manifest.csv"))
    assert data.vocabulary == ["reggae", "rock"] and len(data) == 4
    audio, rate = sf.read(data.items[0].path)
    assert rate == 16000 and len(audio) == 48000 and 0.5 < np.abs(audio).max() <= 0.9
    assert (out / "rock" / "rock-0.mid").exists()


def test_rerun_skips_done_clips_and_remakes_missing_ones(clips):
    out, records, _ = clips
    before = sf.read(out / "rock" / "rock-1.flac")[0]
    (out / "rock" / "rock-1.flac").unlink()
    report = synthesize(records, out, duration=3.0, sample_rate=16000)
    assert (report.made, report.skipped) == (1, 3)
    np.testing.assert_allclose(sf.read(out / "rock" / "rock-1.flac")[0], before, atol=1e-4)  # same seed, same clip


def test_preview_writes_a_clip_and_a_spectrogram_per_genre(tmp_path, capsys):
    assert main(["synth", "preview", "--out", str(tmp_path), "--genres", "disco,hiphop"]) == 0
    for genre in ("disco", "hiphop"):
        assert (tmp_path / f"{genre}.png").stat().st_size > 1000
        assert sf.info(tmp_path / f"{genre}.flac").duration == pytest.approx(10.0)


def test_a_bad_prompt_is_one_line_and_the_run_goes_on(tmp_path, capsys):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(
        '{"id": "a", "genre": "polka", "prompt": "x", "seed": 1}\n'
        '{"id": "b", "genre": "rock", "prompt": "a rock song", "seed": 2}\n'
    )
    assert main(["synth", "audio", "--prompts", str(prompts), "--out", str(tmp_path / "out"), "--duration", "2"]) == 1
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("musictag: note:")]
    assert err == [
        "musictag: a: no procedural style for genre 'polka'; known: blues, classical, country, disco, "
        "hiphop, jazz, metal, pop, reggae, rock"
    ]
    assert (tmp_path / "out" / "rock" / "b.flac").exists()
    assert len(open_dataset(str(tmp_path / "out" / "manifest.csv"))) == 1


def test_master_reaches_the_loudness_under_the_ceiling():
    from musictag.synthesis.render import master

    rng = np.random.default_rng(0)
    quiet = (0.05 * rng.standard_normal(22050)).astype(np.float32)
    soft = master(quiet, -24.0, 22050)
    assert 20 * np.log10(np.sqrt(np.mean(soft.astype(np.float64) ** 2))) == pytest.approx(-24.0, abs=0.05)
    loud = master(quiet, -10.0, 22050)  # noise 10 dB under full scale has peaks far over the ceiling
    assert np.abs(loud).max() <= 0.89 + 1e-6 and np.sqrt(np.mean(loud**2)) > 3 * np.sqrt(np.mean(soft**2))
    assert not master(np.zeros(100, np.float32), -10.0, 22050).any()


def test_synth_remakes_clips_whose_settings_changed(tmp_path):
    records = [{"id": "a", "genre": "rock", "prompt": "a rock song", "seed": 1}]
    assert synthesize(records, tmp_path, duration=1.0, sample_rate=16000).made == 1
    assert synthesize(records, tmp_path, duration=1.0, sample_rate=16000).skipped == 1
    changes = [
        ([{**records[0], "seed": 2}], {}),
        (records, {"duration": 1.5}),
        (records, {"sample_rate": 22050}),
        ([{**records[0], "prompt": "loud rock"}], {}),
    ]
    for changed, kwargs in changes:
        settings = {"duration": 1.0, "sample_rate": 16000, **kwargs}
        report = synthesize(changed, tmp_path, **settings)
        assert (report.made, report.skipped) == (1, 0), kwargs
        info = sf.info(tmp_path / "rock" / "a.flac")
        assert (info.samplerate, round(info.duration, 2)) == (settings["sample_rate"], settings["duration"])
    manifest = (tmp_path / "manifest.csv").read_text()
    assert "soundfont=" in manifest and "loud rock" in manifest


def test_a_missing_synthesizer_is_said_once_before_any_clip(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tinysoundfont", None)  # import fails
    records = [{"id": str(n), "genre": "rock", "prompt": "a rock song", "seed": n} for n in range(3)]
    with pytest.raises(ParameterError, match="needs 'tinysoundfont'"):
        synthesize(records, tmp_path, duration=1.0)
    assert not list(tmp_path.rglob("*.flac"))
