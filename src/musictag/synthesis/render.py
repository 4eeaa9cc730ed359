"""Render an arrangement to audio: a General MIDI SoundFont synthesizer per instrument, then production.

The synthesizer is TinySoundFont (the ``tinysoundfont`` wheel, a SoundFont 2 player like
FluidSynth) with a General MIDI bank: ``$MUSICTAG_SOUNDFONT``, else Debian's FluidR3_GM when
installed (``apt-get install fluid-soundfont-gm``: real sampled instruments, 148 MB), else the
small ``TimGM6mb.sf2`` that ships with ``pretty_midi``. The voice is the formant singer of
:mod:`musictag.synthesis.voice`, its syllables drawn from the clip's seed. Each role is
rendered on its own so that production can treat it apart (amp distortion on rock and metal
guitars and voices); the mix then gets compression, reverb and a high shelf (``pedalboard``), and
is mastered to the genre's loudness under a limiter. No recording-chain effect belongs to one genre
alone (a lo-fi filter and hiss on some hip-hop clips were removed for that reason: README, synthetic
training music).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from types import ModuleType

import numpy as np

from musictag.errors import ParameterError
from musictag.synthesis.compose import ROLES, Arrangement
from musictag.synthesis.styles import STYLES

_GAINS = {"drums": 1.0, "bass": 0.9, "comp": 0.7, "lead": 0.8, "voice": 0.9}
# the roles a style's ``drive`` distorts: (share of the drive, cabinet low-pass Hz, level after);
# the voice gets half, for a gritty, shouted rock and metal singer
_AMP = {"comp": (1.0, 5500, 0.5), "voice": (0.5, 6000, 0.6)}
DEBIAN_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")


def default_soundfont() -> Path:
    """``$MUSICTAG_SOUNDFONT``, else Debian's FluidR3_GM.sf2 if installed, else pretty_midi's TimGM6mb.sf2."""
    if os.environ.get("MUSICTAG_SOUNDFONT"):
        return Path(os.environ["MUSICTAG_SOUNDFONT"])
    if DEBIAN_SOUNDFONT.is_file():
        return DEBIAN_SOUNDFONT
    try:
        import pretty_midi
    except ImportError:
        raise ParameterError("the procedural backend needs 'pretty_midi' (pip install 'musictag[synth]')") from None
    return Path(pretty_midi.__file__).with_name("TimGM6mb.sf2")


def soundfont_note(settings: str) -> str | None:
    """The line to show when clips were (or will be) rendered with the small fallback SoundFont."""
    if "TimGM6mb" not in settings:
        return None
    return (
        "rendered with the small TimGM6mb SoundFont; the README's figures used FluidR3_GM "
        "(apt-get install fluid-soundfont-gm, or MUSICTAG_SOUNDFONT=FILE.sf2)"
    )


def require_synthesizer(soundfont: Path | None = None) -> ModuleType:
    """The tinysoundfont module and a readable SoundFont, or one clear line saying what is missing
    (checked once before a run, not once per clip)."""
    try:
        import tinysoundfont
    except ImportError:
        hint = "pip install --no-deps tinysoundfont==0.3.7"  # its pyaudio dependency is for live playback only
        raise ParameterError(f"the procedural backend needs 'tinysoundfont' ({hint})") from None
    soundfont = soundfont or default_soundfont()
    if not soundfont.is_file():
        raise ParameterError(f"{soundfont}: SoundFont not found (set MUSICTAG_SOUNDFONT to a .sf2 file)")
    return tinysoundfont


@lru_cache(maxsize=2)  # loading a large SoundFont takes 0.4 s: once per process, not once per stem
def _synth(sample_rate: int, soundfont: Path):
    synth = require_synthesizer(soundfont).Synth(samplerate=sample_rate)
    return synth, synth.sfload(str(soundfont))


def render_role(arrangement: Arrangement, role: str, sample_rate: int, soundfont: Path) -> np.ndarray:
    """One role's notes as mono float32 audio of the clip's duration (plus nothing past it)."""
    synth, sfid = _synth(sample_rate, soundfont)
    synth.sounds_off()  # a cached synthesizer starts every stem silent: stop every voice and
    synth.generate(sample_rate // 10)  # let their quick release (a few ms) run out
    channel = 9 if role == "drums" else 0
    if role == "drums":
        synth.program_select(channel, sfid, 128, arrangement.programs.get("drums", 0), True)
    else:
        synth.program_select(channel, sfid, 0, arrangement.programs[role])
    events = []
    for note in arrangement.notes:
        if note.role == role:
            events.append((round(note.start * sample_rate), 1, note.pitch, note.velocity))
            events.append((round(note.end * sample_rate), 0, note.pitch, 0))
    events.sort()
    total = round(arrangement.duration * sample_rate)
    out = np.zeros(2 * total, dtype=np.float32)
    position = 0
    for when, on, pitch, velocity in [*events, (total, -1, 0, 0)]:
        when = min(when, total)
        if when > position:
            out[2 * position : 2 * when] = np.frombuffer(synth.generate(when - position), dtype=np.float32)
            position = when
        if on == 1:
            synth.noteon(channel, pitch, velocity)
        elif on == 0:
            synth.noteoff(channel, pitch)
    return out.reshape(-1, 2).mean(axis=1)


def rap_voice() -> str:
    """Who raps: ``festival`` (a recorded voice, see :mod:`musictag.synthesis.festival`) when Festival
    is installed, else the ``formant`` singer. Measured with both on 6 hip-hop clips: MSD-musicnn's
    Hip-Hop 0.065 against 0.010 (real hip-hop 0.46), mtt-musicnn's vocal 0.094 against 0.050 (real
    0.107). Sung lines stay formant: Festival's singing mode raised the vocal tags of pop and country
    clips but lowered their pop and country tags (0.087 to 0.060, 0.247 to 0.117) and raised Hip-Hop."""
    from musictag.synthesis import festival

    return "festival" if festival.available() else "formant"


def voice_note(voice: str | None) -> str | None:
    """The line to show when rapped lines are rendered by the formant singer (``voice`` from
    :func:`rap_voice`)."""
    if voice != "formant":
        return None
    return (
        "rap rendered by the formant singer, which taggers hear as electronic; install Festival's voices "
        "(apt-get install festival festvox-kallpc16k festvox-us-slt-hts) for a recorded one"
    )


def render_voice(arrangement: Arrangement, sample_rate: int, seed: int, *, rapper: str | None = None) -> np.ndarray:
    """The voice role sung by the formant singer (a random vowel and onset per note), or rapped: by
    ``rapper`` (default :func:`rap_voice`: Festival's recorded voices where installed, at the formant
    singer's level)."""
    from musictag.synthesis.voice import CONSONANTS, VOWELS, Syllable, synthesize_voice

    rng = np.random.default_rng(seed)
    rap = arrangement.vocal == "rap"
    syllables = [
        Syllable(
            n.start,
            n.end,
            n.pitch,
            n.velocity,
            str(rng.choice(list(VOWELS))),
            str(rng.choice(CONSONANTS, p=(0.2, 0.3, 0.35, 0.15) if rap else (0.4, 0.2, 0.2, 0.2))),
        )
        for n in arrangement.notes
        if n.role == "voice"
    ]
    formant = synthesize_voice(
        syllables,
        arrangement.duration,
        sample_rate,
        female=arrangement.singer == "female",
        vibrato=0.0 if rap else 0.1 + 0.3 * rng.random(),
        glide=0.015 if rap else 0.04,
        seed=seed,
    )
    if not rap or (rapper or rap_voice()) != "festival":
        return formant
    from musictag.synthesis import festival

    notes = [n for n in arrangement.notes if n.role == "voice"]
    spoken = festival.rap(notes, arrangement.singer, arrangement.duration, sample_rate, rng)
    level = np.sqrt(np.mean(formant**2)) / (np.sqrt(np.mean(spoken**2)) + 1e-12)
    return (spoken * level).astype(np.float32)


def produce(stems: dict[str, np.ndarray], genre: str, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Mix the stems with the genre's production and master them to its loudness."""
    return master(*effects(stems, genre, sample_rate, rng), sample_rate)


def effects(
    stems: dict[str, np.ndarray], genre: str, sample_rate: int, rng: np.random.Generator
) -> tuple[np.ndarray, float]:
    """The stems mixed through the genre's production chain, before mastering, and the loudness
    (RMS dBFS) the master should bring it to."""
    import pedalboard as pb

    settings = STYLES[genre].production
    mix = np.zeros_like(next(iter(stems.values())))
    for role, audio in stems.items():
        if role in _AMP and settings.get("drive"):
            share, cutoff, level = _AMP[role]
            audio = (
                pb.Pedalboard([pb.Distortion(drive_db=settings["drive"] * share), pb.LowpassFilter(cutoff)])(
                    audio[None], sample_rate
                )[0]
                * level
            )
        mix += _GAINS[role] * audio
    chain = []
    if settings.get("compress"):
        chain += [pb.Compressor(threshold_db=-20, ratio=3, attack_ms=10, release_ms=120)]
    reverb = settings.get("reverb", 0.2)
    chain += [pb.Reverb(room_size=0.3 + 0.6 * reverb, wet_level=0.35 * reverb, dry_level=1.0 - 0.3 * reverb)]
    chain += [pb.HighShelfFilter(cutoff_frequency_hz=5000, gain_db=settings.get("air", 6) * rng.random())]
    mix = pb.Pedalboard(chain)(mix[None].astype(np.float32), sample_rate)[0]
    return mix, settings.get("loudness", -14) + rng.uniform(-3, 3)


def master(mix: np.ndarray, loudness: float, sample_rate: int, *, ceiling: float = 0.89) -> np.ndarray:
    """Bring the mix to an RMS of ``loudness`` dBFS with its peaks limited to ``ceiling``, as mastering
    does: commercial pop is loud and dense, classical recordings quiet and dynamic."""
    return limit(mix * master_gain(mix, loudness), sample_rate, ceiling=ceiling)


def master_gain(mix: np.ndarray, loudness: float) -> float:
    """The gain that brings ``mix`` to an RMS of ``loudness`` dBFS (1 for silence)."""
    rms = float(np.sqrt(np.mean(mix.astype(np.float64) ** 2)))
    return 10 ** (loudness / 20) / rms if rms > 0 else 1.0


def limit(mix: np.ndarray, sample_rate: int, *, ceiling: float = 0.89) -> np.ndarray:
    """A look-ahead peak limiter: every sample gets at most the gain its own peak allows (held over
    10 ms, then averaged over 5 ms, so the gain moves smoothly)."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    needed = np.minimum(1.0, ceiling / np.maximum(np.abs(mix), 1e-9))
    window = max(1, round(0.005 * sample_rate))
    gain = uniform_filter1d(minimum_filter1d(needed, 2 * window + 1), window)
    return np.clip(mix * gain, -ceiling, ceiling).astype(np.float32)


def render_stems(
    arrangement: Arrangement, *, sample_rate: int = 22050, soundfont: Path | None = None, seed: int = 0
) -> dict[str, np.ndarray]:
    """Every role that has notes, synthesised on its own (mono float32, the clip's duration)."""
    soundfont = soundfont or default_soundfont()
    return {
        role: render_voice(arrangement, sample_rate, seed)
        if role == "voice"
        else render_role(arrangement, role, sample_rate, soundfont)
        for role in ROLES
        if any(n.role == role for n in arrangement.notes)
    }


def render(
    arrangement: Arrangement, *, sample_rate: int = 22050, soundfont: Path | None = None, seed: int = 0
) -> np.ndarray:
    """The finished mono clip: every role synthesised, mixed and produced."""
    stems = render_stems(arrangement, sample_rate=sample_rate, soundfont=soundfont, seed=seed)
    if not stems:
        return np.zeros(round(arrangement.duration * sample_rate), np.float32)
    return produce(stems, arrangement.genre, sample_rate, np.random.default_rng(seed))
