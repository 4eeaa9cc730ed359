"""What a genre description can say: instruments, voices, playing, mood, tempo, era, setting, production.

One entry per genre; a user adds a genre by adding an entry (or passing their own mapping to
:func:`musictag.synthesis.prompts.write_prompts`). Tempo words and moods are shared with the
procedural generator, which reads them back out of a prompt.
"""

from __future__ import annotations

TEMPOS = {
    "slow": ["slow", "unhurried", "laid-back", "languid"],
    "medium": ["mid-tempo", "steady", "relaxed", "easygoing"],
    "fast": ["fast", "driving", "upbeat", "energetic", "frantic"],
}
MOODS = {
    "happy": ["joyful", "cheerful", "lively", "playful", "uplifting", "sunny"],
    "sad": ["melancholic", "mournful", "wistful", "bittersweet", "somber"],
    "dark": ["dark", "brooding", "menacing", "ominous", "gritty"],
    "calm": ["peaceful", "dreamy", "gentle", "serene", "warm"],
    "intense": ["aggressive", "fiery", "powerful", "raw", "urgent"],
}

GENRES: dict[str, dict[str, list[str]]] = {
    "blues": {
        "instruments": ["a slide guitar", "a wailing harmonica", "a growling electric guitar",
                        "a walking upright bass", "a honky-tonk piano", "a shuffling drum kit", "a Hammond organ",
                        "an acoustic resonator guitar"],
        "playing": ["bending every note", "trading call-and-response licks", "over a twelve-bar shuffle",
                    "with a lazy swing feel", "with soulful turnarounds"],
        "moods": ["sad", "calm", "dark", "happy"],
        "tempos": ["slow", "medium"],
        "eras": ["Delta", "Chicago", "1950s", "Texas", "juke-joint"],
        "settings": ["a smoky bar late at night", "a porch on a hot summer evening", "a riverboat",
                     "a back-road diner"],
        "voices": ["a gravelly male voice", "a soulful singer", "a moaning vocal", "a raspy blues shouter"],
    },
    "classical": {
        "instruments": ["a string quartet", "a solo piano", "a full symphony orchestra", "a harpsichord",
                        "a soaring violin", "a mellow cello", "a woodwind ensemble", "a french horn section"],
        "playing": ["in flowing counterpoint", "with sweeping dynamics", "with delicate arpeggios",
                    "in a stately minuet", "with a lyrical melody"],
        "moods": ["calm", "sad", "happy", "intense"],
        "tempos": ["slow", "medium", "fast"],
        "eras": ["Baroque", "Romantic", "Classical-era", "Impressionist"],
        "settings": ["a grand concert hall", "a candlelit chapel", "a royal ballroom", "an intimate salon"],
        "voices": [],
    },
    "country": {
        "instruments": ["twangy guitars", "an upbeat fiddle", "a pedal steel guitar", "a banjo", "an acoustic guitar",
                        "a harmonica", "a brushed snare", "a mandolin"],
        "playing": ["with a train-beat rhythm", "with a two-step groove", "with chicken-picking licks",
                    "with a boom-chick bass", "with heartfelt twang"],
        "moods": ["happy", "sad", "calm"],
        "tempos": ["medium", "fast", "slow"],
        "eras": ["Nashville", "honky-tonk", "outlaw", "bluegrass-tinged", "1970s"],
        "settings": ["a barn dance", "a long drive down a dusty highway", "a small-town fair", "a campfire"],
        "voices": ["a twangy male vocal", "a heartfelt female singer", "a warm baritone voice",
                   "close vocal harmonies"],
    },
    "disco": {
        "instruments": ["four-on-the-floor drums", "a funky octave bass line", "lush strings", "a wah-wah guitar",
                        "shimmering hi-hats", "a Rhodes piano", "a horn section", "a synth bass"],
        "playing": ["with syncopated guitar stabs", "with open hi-hats on the off-beat", "with sweeping string runs",
                    "with a groovy bass line", "with handclaps on the backbeat"],
        "moods": ["happy", "intense"],
        "tempos": ["medium", "fast"],
        "eras": ["1970s", "Studio 54-era", "Philly soul", "Euro"],
        "settings": ["a glittering dance floor", "a roller rink", "a Saturday night party", "a mirror-ball club"],
        "voices": ["a soaring diva vocal", "a falsetto singer", "soulful backing vocals", "a sultry female voice"],
    },
    "hiphop": {
        "instruments": ["boom-bap drums", "a deep 808 bass", "a dusty vinyl sample", "a jazzy piano loop",
                        "crisp snares", "a turntable scratch", "a mellow Rhodes", "a punchy kick"],
        "playing": ["with a laid-back head-nodding groove", "with swung sixteenth hi-hats", "with chopped samples",
                    "with a hard-hitting beat", "with a looping bass riff"],
        "moods": ["dark", "calm", "intense", "happy"],
        "tempos": ["slow", "medium"],
        "eras": ["golden-age", "1990s East Coast", "West Coast", "underground", "lo-fi"],
        "settings": ["a city street at night", "a basement cypher", "a block party", "a late-night car ride"],
        "voices": ["a laid-back rap verse", "a rapid-fire MC", "a confident rapper", "rhymes delivered with swagger"],
    },
    "jazz": {
        "instruments": ["a walking upright bass", "a brushed drum kit", "a smoky tenor saxophone", "a muted trumpet",
                        "a swinging piano trio", "a vibraphone", "a hollow-body guitar", "a clarinet"],
        "playing": ["with a swing feel", "trading improvised solos", "with rich extended chords",
                    "with ride-cymbal swing", "with bluesy phrasing"],
        "moods": ["calm", "happy", "sad"],
        "tempos": ["slow", "medium", "fast"],
        "eras": ["bebop", "cool", "1950s", "hard-bop", "big-band"],
        "settings": ["a dim jazz club", "a rainy evening cafe", "a hotel lounge", "a rooftop bar"],
        "voices": ["a smoky female vocal", "a crooning singer", "a scatting singer", "a velvet-voiced crooner"],
    },
    "metal": {
        "instruments": ["heavily distorted guitars", "double-kick drums", "a chugging rhythm guitar",
                        "a shredding lead guitar", "a thundering bass", "crashing cymbals", "palm-muted riffs",
                        "a seven-string guitar"],
        "playing": ["with relentless palm-muted riffs", "with blast beats", "with galloping rhythms",
                    "with screaming solos", "with crushing breakdowns"],
        "moods": ["intense", "dark"],
        "tempos": ["fast", "medium"],
        "eras": ["thrash", "1980s heavy", "doom", "power", "modern"],
        "settings": ["a packed arena", "a sweaty mosh pit", "a stormy battlefield", "an open-air festival"],
        "voices": ["a screaming vocalist", "growled vocals", "a high-pitched wailing singer", "harsh shouted vocals"],
    },
    "pop": {
        "instruments": ["bright synths", "a catchy piano hook", "a punchy drum machine", "an acoustic guitar strum",
                        "a bouncy bass", "layered synth pads", "finger snaps", "a plucky synth"],
        "playing": ["with a catchy chorus", "with a sing-along melody", "with a bouncy groove",
                    "with a big build-up", "with polished hooks"],
        "moods": ["happy", "calm", "sad"],
        "tempos": ["medium", "fast"],
        "eras": ["1980s", "2000s", "synth-pop", "modern", "bubblegum"],
        "settings": ["a summer road trip", "a radio hit", "a sunny beach", "a teen movie montage"],
        "voices": ["a catchy female vocal", "a breathy singer", "layered vocal harmonies", "a sweet pop voice"],
    },
    "reggae": {
        "instruments": ["an off-beat skank guitar", "a deep dub bass", "a one-drop drum beat", "a bubbling organ",
                        "a melodica", "rim-shot snares", "a horn line", "echoing percussion"],
        "playing": ["with off-beat chops", "with a one-drop groove", "with dub echoes", "with a rolling bass line",
                    "with laid-back syncopation"],
        "moods": ["calm", "happy"],
        "tempos": ["slow", "medium"],
        "eras": ["roots", "1970s Kingston", "dub", "rocksteady"],
        "settings": ["a sunny beach", "a Caribbean street party", "a sound-system dance", "a hammock in the shade"],
        "voices": ["a laid-back vocal", "a soulful singer", "call-and-response vocals", "a warm male voice"],
    },
    "rock": {
        "instruments": ["crunchy electric guitars", "a driving bass", "pounding drums", "an overdriven rhythm guitar",
                        "a soaring guitar solo", "a Hammond organ", "power chords", "a tambourine"],
        "playing": ["with power-chord riffs", "with a steady backbeat", "with anthemic choruses",
                    "with gritty overdrive", "with a loud-quiet-loud dynamic"],
        "moods": ["intense", "happy", "dark"],
        "tempos": ["medium", "fast"],
        "eras": ["1970s", "garage", "classic", "indie", "1990s alternative"],
        "settings": ["a stadium concert", "a garage rehearsal", "an open highway", "a college bar"],
        "voices": ["a raspy male vocal", "a powerful singer", "gang vocals on the chorus", "a gritty voice"],
    },
}  # fmt: skip

PRODUCTION = ["warmly mixed on analog tape", "crisply produced", "recorded live in one take",
              "drenched in lo-fi tape hiss", "bathed in spacious reverb", "mixed loud and punchy",
              "full of vintage warmth"]  # fmt: skip
