"""Does a recorded voice move the taggers' vocal and genre tags toward the real genres?

    python benchmarks/festival_voices.py ../shared/data/gtzan_mini [--genres hiphop,pop,country] [--clips 6]

Per genre: ``--clips`` composed 10-s clips with a voice, each mixed twice from the same stems and
production, once with the formant singer and once with Festival (rapped lines spoken by a recorded
voice and stretched to the phrase; sung lines through Festival's singing mode), the Festival line at
the formant voice's level. Prints the mean score of MSD-musicnn's genre and vocalist tags and
mtt-musicnn's vocal tags for both, beside the first 10 s of the data's real tracks of that genre.
Needs Festival (``apt-get install festival festvox-kallpc16k festvox-us-slt-hts``).
"""

from __future__ import annotations

import argparse

import numpy as np

from musictag.audio.stream import load
from musictag.data import open_dataset
from musictag.inference.factory import open_tagger
from musictag.synthesis import festival
from musictag.synthesis.compose import compose
from musictag.synthesis.render import produce, render_stems, render_voice

RATE = 16000
MSD_TAGS = ("Hip-Hop", "pop", "country", "blues", "soul", "rnb", "electronic", "female vocalists", "male vocalists")
MTT_TAGS = ("vocal", "vocals", "voice", "singing", "male", "female", "no vocals", "techno")


def main() -> None:
    """Render, tag and print every genre's table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("gtzan", help="a GTZAN folder (e.g. ../shared/data/gtzan_mini)")
    parser.add_argument("--genres", default="hiphop,pop,country", help="comma-separated (default hiphop,pop,country)")
    parser.add_argument("--clips", type=int, default=6, help="composed clips with a voice per genre (default 6)")
    args = parser.parse_args()
    if not festival.available():
        parser.error("Festival is not installed: apt-get install festival festvox-kallpc16k festvox-us-slt-hts")
    taggers = {"msd": open_tagger("msd-musicnn", backend="torch"), "mtt": open_tagger("mtt-musicnn", backend="torch")}
    wanted = {"msd": MSD_TAGS, "mtt": MTT_TAGS}

    def scores(audio: np.ndarray) -> dict[str, float]:
        out = {}
        for name, tagger in taggers.items():
            result = tagger.tag(audio, sample_rate=RATE)
            out.update({f"{name} {t}": float(result.scores[tagger.labels.index(t)]) for t in wanted[name]})
        return out

    real = open_dataset(f"gtzan:{args.gtzan}")
    for genre in args.genres.split(","):
        rows: dict[str, list[dict]] = {"formant": [], "festival": [], "real": []}
        seed, vocal = 0, ""
        while len(rows["formant"]) < args.clips and seed < 20 * args.clips:
            seed += 1
            arrangement = compose(genre, f"{genre} song with vocals", seed, duration=10.0)
            notes = [n for n in arrangement.notes if n.role == "voice"]
            if not notes:
                continue
            vocal = arrangement.vocal
            stems = render_stems(arrangement, sample_rate=RATE, seed=seed)
            formant = render_voice(arrangement, RATE, seed, rapper="formant")  # whatever rap_voice() says
            rng = np.random.default_rng(seed)
            if vocal == "rap":
                recorded = festival.rap(notes, arrangement.singer, arrangement.duration, RATE, rng)
            else:
                recorded = festival.sing(notes, arrangement.bpm, arrangement.duration, RATE, rng)
            recorded *= np.sqrt(np.mean(formant**2)) / (np.sqrt(np.mean(recorded**2)) + 1e-12)
            for name, voice in (("formant", formant), ("festival", recorded.astype(np.float32))):
                mix = produce({**stems, "voice": voice}, genre, RATE, np.random.default_rng(seed))
                rows[name].append(scores(mix))
        for item in [i for i in real.items if i.labels[0] == genre][:10]:
            rows["real"].append(scores(load(item.path, sample_rate=RATE)[: 10 * RATE]))
        print(f"\n{genre}: {len(rows['formant'])} clips ({vocal or 'no voice'}), {len(rows['real'])} real tracks")
        print(f"  {'tag':22s} {'formant':>8s} {'festival':>8s} {'real':>8s}")
        for tag in rows["real"][0] if rows["real"] else []:
            means = [np.mean([r[tag] for r in rows[k]]) if rows[k] else float("nan") for k in rows]
            print(f"  {tag:22s} " + " ".join(f"{m:8.3f}" for m in means))


if __name__ == "__main__":
    main()
