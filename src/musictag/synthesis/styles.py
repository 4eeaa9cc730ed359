"""Genre styles for the procedural generator, as data: one :class:`Style` per genre.

A style says how a genre is played: tempo ranges, feel (swing), chord progressions and
voicings, drum grooves (16 steps per bar, one string per drum: ``x`` loud, ``o`` soft,
``.`` rest), bass and accompaniment patterns, General MIDI instruments per role, the
scale melodies use, and production. Add a genre by adding a :class:`Style` to ``STYLES``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# General MIDI drum keys
KICK, RIM, SNARE, CLAP, HAT, PEDAL_HAT, OPEN_HAT, CRASH, RIDE = 36, 37, 38, 39, 42, 44, 46, 49, 51

# words in a prompt -> (role, General MIDI program); per role, the instrument the prompt names first wins,
# so a specific phrase comes before the words inside it ("synth bass" before "bass")
INSTRUMENT_WORDS: list[tuple[str, str, int]] = [
    ("slide guitar", "lead", 25),
    ("resonator", "comp", 25),
    ("harmonica", "lead", 22),
    ("melodica", "lead", 22),
    ("distorted guitar", "comp", 30),
    ("seven-string", "comp", 30),
    ("palm-muted", "comp", 30),
    ("power chord", "comp", 30),
    ("overdriven", "comp", 29),
    ("crunchy", "comp", 29),
    ("shredding", "lead", 30),
    ("guitar solo", "lead", 29),
    ("growling electric guitar", "lead", 29),
    ("wah-wah", "comp", 28),
    ("skank", "comp", 28),
    ("hollow-body", "comp", 26),
    ("twangy", "comp", 27),
    ("chicken-picking", "lead", 27),
    ("acoustic guitar", "comp", 25),
    ("pedal steel", "lead", 26),
    ("banjo", "comp", 105),
    ("mandolin", "comp", 105),
    ("fiddle", "lead", 40),
    ("violin", "lead", 40),
    ("cello", "lead", 42),
    ("string quartet", "comp", 48),
    ("orchestra", "comp", 48),
    ("strings", "comp", 48),
    ("harpsichord", "comp", 6),
    ("woodwind", "lead", 71),
    ("french horn", "lead", 60),
    ("horn", "lead", 61),
    ("trumpet", "lead", 59),
    ("saxophone", "lead", 66),
    ("clarinet", "lead", 71),
    ("vibraphone", "lead", 11),
    ("rhodes", "comp", 4),
    ("honky-tonk", "comp", 3),
    ("piano", "comp", 0),
    ("organ", "comp", 16),
    ("synth bass", "bass", 38),
    ("808", "bass", 38),
    ("octave bass", "bass", 36),
    ("dub bass", "bass", 33),
    ("upright bass", "bass", 32),
    ("bass", "bass", 33),
    ("synth pad", "comp", 89),
    ("plucky synth", "lead", 80),
    ("bright synth", "lead", 81),
    ("synth", "comp", 89),
    ("brush", "drums", 40),
    ("808", "drums", 25),
    ("drum machine", "drums", 24),
    ("electronic drums", "drums", 24),
]

SCALES = {
    "major": [0, 2, 4, 5, 7, 9, 11],
    "minor": [0, 2, 3, 5, 7, 8, 10],
    "dorian": [0, 2, 3, 5, 7, 9, 10],
    "mixolydian": [0, 2, 4, 5, 7, 9, 10],
    "pentatonic_major": [0, 2, 4, 7, 9],
    "pentatonic_minor": [0, 3, 5, 7, 10],
    "blues": [0, 3, 5, 6, 7, 10],
    "harmonic_minor": [0, 2, 3, 5, 7, 8, 11],
}


@dataclass(frozen=True)
class Style:
    """How one genre is played (see the module docstring for the notations)."""

    tempo: dict[str, tuple[int, int]]  # tempo word -> bpm range
    progressions: list[list[str]]  # roman numerals, one chord per bar ("i", "IV7", "bVII" ...)
    drums: list[dict[int, str]]  # alternative grooves: drum key -> 16-step pattern
    bass: str  # root8 | rootfifth | walking | octave | dub | pedal | syncopated | arpeggio
    comp: str  # strum | power | skank | stabs | arpeggio | sustain | comping | chops
    programs: dict[str, list[int]]  # role -> General MIDI programs to draw from (drums: kits of bank 128)
    scale: dict[str, str]  # "major" / "minor" key -> melody scale
    voicing: str = "triad"  # triad | seventh | power | ninth
    swing: float = 0.0  # 0 straight .. 1/3 triplet swing of off-beat eighths
    melody_density: float = 0.5  # chance of a note on each eighth
    vocal: str = "sung"  # the genre's voice (sung | rap), sung by voice.py's formant singer ...
    vocal_chance: float = 0.0  # ... in this share of clips whose prompt does not say
    singers: tuple[str, ...] = ("male", "female")
    minor_moods: tuple[str, ...] = ("sad", "dark")
    # reverb (0..1), drive (dB, guitars and voice), compress,
    # loudness (the master's RMS in dBFS, ±3 dB), air (the most a mastering high shelf adds, dB)
    production: dict = field(default_factory=dict)


_ROCK_DRUMS = [
    {KICK: "x.....x.x.......", SNARE: "....x.......x...", HAT: "x.x.x.x.x.x.x.x."},
    {KICK: "x.......x.x.....", SNARE: "....x.......x..o", HAT: "x.x.x.x.x.x.x.x.", CRASH: "x..............."},
]

STYLES: dict[str, Style] = {
    "blues": Style(
        tempo={"slow": (58, 72), "medium": (80, 100), "fast": (110, 130)},
        progressions=[
            ["I7", "IV7", "I7", "I7"],
            ["IV7", "IV7", "I7", "I7"],
            ["V7", "IV7", "I7", "V7"],
            ["I7", "I7", "IV7", "IV7"],
        ],
        drums=[
            {KICK: "x.....x.x.....x.", SNARE: "....x.......x...", HAT: "x..x.xx..x.xx..x"},
            {KICK: "x.......x.......", SNARE: "....x.......x...", RIDE: "x..x..x.x..x..x."},
        ],
        bass="walking",
        comp="comping",
        voicing="seventh",
        swing=0.33,
        melody_density=0.45,
        programs={"drums": [0, 8, 32], "bass": [32, 33], "comp": [0, 27, 16], "lead": [22, 29, 25]},
        scale={"major": "blues", "minor": "blues"},
        production={"reverb": 0.3, "loudness": -17},
        vocal_chance=0.7,
        singers=("male", "male", "female"),
    ),
    "classical": Style(
        tempo={"slow": (54, 70), "medium": (76, 96), "fast": (110, 140)},
        progressions=[
            ["I", "IV", "V", "I"],
            ["i", "iv", "V", "i"],
            ["I", "vi", "ii", "V"],
            ["I", "V", "vi", "IV"],
            ["i", "VI", "iv", "V"],
        ],
        drums=[{}],
        bass="pedal",
        comp="arpeggio",
        voicing="triad",
        melody_density=0.6,
        programs={"drums": [48], "bass": [43, 42], "comp": [0, 48, 6, 49], "lead": [40, 73, 42, 71, 60]},
        scale={"major": "major", "minor": "harmonic_minor"},
        production={"reverb": 0.6, "loudness": -24, "air": 0},
    ),
    "country": Style(
        tempo={"slow": (70, 84), "medium": (96, 112), "fast": (120, 150)},
        progressions=[["I", "IV", "V", "I"], ["I", "I", "IV", "V"], ["I", "V", "IV", "I"], ["I", "vi", "IV", "V"]],
        drums=[
            {KICK: "x.......x.......", SNARE: "....x.......x...", HAT: "x.x.x.x.x.x.x.x."},
            {KICK: "x...x...x...x...", RIM: "..x...x...x...x.", HAT: "xxxxxxxxxxxxxxxx"},
        ],
        bass="rootfifth",
        comp="strum",
        voicing="triad",
        melody_density=0.55,
        programs={"drums": [0, 8, 40], "bass": [32, 33], "comp": [25, 105, 27], "lead": [40, 26, 22, 27]},
        scale={"major": "pentatonic_major", "minor": "pentatonic_minor"},
        production={"reverb": 0.25, "loudness": -14},
        vocal_chance=0.8,
        singers=("male", "male", "female"),
    ),
    "disco": Style(
        tempo={"slow": (108, 114), "medium": (116, 122), "fast": (124, 132)},
        progressions=[["i7", "iv7", "i7", "iv7"], ["ii7", "V7", "Imaj7", "vi7"], ["i7", "bVII", "bVI", "bVII"]],
        drums=[
            {
                KICK: "x...x...x...x...",
                SNARE: "....x.......x...",
                CLAP: "....x.......x...",
                HAT: "x.x.x.x.x.x.x.x.",
                OPEN_HAT: "..x...x...x...x.",
            }
        ],
        bass="octave",
        comp="stabs",
        voicing="seventh",
        melody_density=0.45,
        programs={"drums": [0, 24, 8], "bass": [33, 38, 36], "comp": [28, 48, 4], "lead": [61, 48, 81]},
        scale={"major": "major", "minor": "dorian"},
        production={"reverb": 0.3, "compress": True, "loudness": -14},
        vocal_chance=0.7,
        singers=("female", "female", "male"),
    ),
    "hiphop": Style(
        tempo={"slow": (78, 86), "medium": (88, 96), "fast": (96, 102)},
        progressions=[["i7", "i7", "iv7", "iv7"], ["i7", "VImaj7", "i7", "VImaj7"], ["ii7", "ii7", "V7", "V7"]],
        drums=[
            {KICK: "x......x..x.....", SNARE: "....x.......x...", HAT: "x.x.x.x.x.x.x.x."},
            {KICK: "x.x.......x..x..", SNARE: "....x.......x...", HAT: "xxxxxxxxxxxxxxxx"},
        ],
        bass="syncopated",
        comp="chops",
        voicing="seventh",
        swing=0.2,
        melody_density=0.3,
        programs={"drums": [25, 24, 0], "bass": [38, 33], "comp": [4, 0, 11], "lead": [11, 4, 73]},
        scale={"major": "pentatonic_minor", "minor": "pentatonic_minor"},
        production={"reverb": 0.15, "compress": True, "loudness": -13},
        vocal="rap",
        vocal_chance=0.85,
        singers=("male", "male", "male", "female"),
    ),
    "jazz": Style(
        tempo={"slow": (70, 90), "medium": (120, 150), "fast": (170, 210)},
        progressions=[["ii7", "V7", "Imaj7", "VI7"], ["Imaj7", "vi7", "ii7", "V7"], ["iii7", "VI7", "ii7", "V7"]],
        drums=[{RIDE: "x..x..x.x..x..x.", PEDAL_HAT: "....x.......x...", KICK: "o..............."}],
        bass="walking",
        comp="comping",
        voicing="ninth",
        swing=0.33,
        melody_density=0.6,
        programs={"drums": [40, 32], "bass": [32], "comp": [0, 26, 11], "lead": [66, 59, 65, 11, 71]},
        scale={"major": "mixolydian", "minor": "dorian"},
        production={"reverb": 0.35, "loudness": -19},
        vocal_chance=0.3,
    ),
    "metal": Style(
        tempo={"slow": (70, 90), "medium": (110, 140), "fast": (160, 200)},
        progressions=[["i5", "i5", "bVI5", "bVII5"], ["i5", "bII5", "i5", "bVII5"], ["i5", "iv5", "bVI5", "V5"]],
        drums=[
            {KICK: "xxxxxxxxxxxxxxxx", SNARE: "....x.......x...", CRASH: "x.......x......."},
            {KICK: "x.x.x.x.x.x.x.x.", SNARE: "..x...x...x...x.", RIDE: "x.x.x.x.x.x.x.x."},
        ],
        bass="root8",
        comp="power",
        voicing="power",
        melody_density=0.7,
        programs={"drums": [16, 0, 8], "bass": [34, 33], "comp": [30], "lead": [30, 29]},
        scale={"major": "harmonic_minor", "minor": "harmonic_minor"},
        minor_moods=("sad", "dark", "intense", "happy"),
        production={"reverb": 0.2, "drive": 24, "compress": True, "loudness": -14},
        vocal_chance=0.6,
        singers=("male",),
    ),
    "pop": Style(
        tempo={"slow": (70, 84), "medium": (96, 112), "fast": (116, 128)},
        progressions=[["I", "V", "vi", "IV"], ["vi", "IV", "I", "V"], ["I", "vi", "IV", "V"], ["IV", "I", "V", "vi"]],
        drums=[
            {KICK: "x.......x.x.....", SNARE: "....x.......x...", CLAP: "....x.......x...", HAT: "x.x.x.x.x.x.x.x."}
        ],
        bass="root8",
        comp="sustain",
        voicing="triad",
        melody_density=0.55,
        programs={"drums": [0, 24, 25, 8], "bass": [38, 33], "comp": [89, 0, 25, 4], "lead": [80, 81, 11]},
        scale={"major": "pentatonic_major", "minor": "minor"},
        production={"reverb": 0.3, "compress": True, "loudness": -14},
        vocal_chance=0.8,
    ),
    "reggae": Style(
        tempo={"slow": (66, 76), "medium": (78, 90), "fast": (92, 104)},
        progressions=[
            ["I", "IV", "I", "V"],
            ["i", "iv", "i", "iv"],
            ["I", "ii", "IV", "I"],
            ["i", "bVII", "i", "bVII"],
        ],
        drums=[
            {KICK: "........x.......", RIM: "........x.......", HAT: "x.x.x.x.x.x.x.x."},
            {KICK: "x...x...x...x...", SNARE: "........x.......", HAT: "..x...x...x...x."},
        ],
        bass="dub",
        comp="skank",
        voicing="triad",
        swing=0.12,
        melody_density=0.3,
        programs={"drums": [0, 8, 32], "bass": [33, 32], "comp": [28, 16, 27], "lead": [22, 61, 16]},
        scale={"major": "major", "minor": "minor"},
        production={"reverb": 0.4, "loudness": -17},
        vocal_chance=0.75,
        singers=("male", "male", "female"),
    ),
    "rock": Style(
        tempo={"slow": (72, 88), "medium": (100, 124), "fast": (130, 160)},
        progressions=[
            ["I5", "IV5", "V5", "IV5"],
            ["I5", "bVII5", "IV5", "I5"],
            ["i5", "bVI5", "bVII5", "i5"],
            ["I5", "V5", "vi5", "IV5"],
        ],
        drums=_ROCK_DRUMS,
        bass="root8",
        comp="power",
        voicing="power",
        melody_density=0.45,
        programs={"drums": [0, 16, 8], "bass": [34, 33], "comp": [29, 30], "lead": [29, 30, 18]},
        scale={"major": "pentatonic_minor", "minor": "pentatonic_minor"},
        production={"reverb": 0.25, "drive": 12, "compress": True, "loudness": -14},
        vocal_chance=0.7,
        singers=("male", "male", "female"),
    ),
}
