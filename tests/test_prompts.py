"""Genre prompts: fluent, varied, reproducible, distinct, fast."""

import json
import time

import pytest

from musictag.cli.main import main
from musictag.errors import ParameterError
from musictag.synthesis.prompts import generate_prompts, read_prompts
from musictag.synthesis.vocabulary import GENRES


def test_ten_thousand_distinct_prompts_per_genre_in_seconds():
    start = time.perf_counter()
    for genre in GENRES:
        prompts = generate_prompts(genre, 10_000, seed=3)
        assert len(prompts) == len(set(prompts)) == 10_000
        assert all(genre in p and p[0].isupper() and p.endswith(".") for p in prompts[:200])
    assert time.perf_counter() - start < 20


def test_same_seed_same_prompts_other_seed_other_prompts():
    assert generate_prompts("jazz", 50, seed=1) == generate_prompts("jazz", 50, seed=1)
    assert generate_prompts("jazz", 50, seed=1) != generate_prompts("jazz", 50, seed=2)


def test_articles_agree_and_moods_do_not_clash_with_tempo():
    prompts = generate_prompts("classical", 2000)
    assert not any(f" a {v}" in p.lower() for p in prompts for v in ("upbeat", "energetic", "uplifting"))
    assert not any("serene, frantic" in p or "peaceful, fast" in p for p in prompts)


def test_prompts_command_writes_jsonl(tmp_path, capsys):
    out = tmp_path / "prompts.jsonl"
    assert main(["synth", "prompts", "--genres", "blues,metal", "--per-genre", "20", "--out", str(out)]) == 0
    records = read_prompts(out)
    assert len(records) == 40 and {r["genre"] for r in records} == {"blues", "metal"}
    assert len({r["seed"] for r in records}) == 40
    assert json.loads(out.read_text().splitlines()[0])["id"] == "blues-00000"
    assert main(["synth", "prompts", "--genres", "polka", "--out", str(out)]) == 1
    assert "no vocabulary for genre 'polka'" in capsys.readouterr().err


def test_bad_prompt_file_names_the_line(tmp_path):
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"genre": "rock", "prompt": "x"}\nnot json\n')
    with pytest.raises(ParameterError, match=r"p.jsonl:2"):
        read_prompts(bad)
