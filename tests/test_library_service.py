"""The library service that both faces (``musictag library`` and ``musictag serve``) call."""

from __future__ import annotations

import pytest
import soundfile as sf

from musictag.cli.main import main
from musictag.library.query import QueryError
from musictag.library.service import LibraryService, NotFound
from musictag.utils.paths import is_under

from conftest import music_like


@pytest.fixture(scope="module")
def tagged(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("service")
    music = root / "music"
    music.mkdir()
    for i in range(6):
        sf.write(music / f"t{i}.wav", music_like(3.5, 16000, seed=i), 16000)
    db = root / "lib.sqlite"
    code = main(["tag", str(music), "--db", str(db), "--model", str(tiny_model_dir), "--embed", "penultimate", "-q"])
    assert code == 0
    return LibraryService(db), music


def test_find_sorts_by_the_first_tag_and_pages(tagged):
    service, music = tagged
    everything = service.find(query="tag0 >= 0", sort=True)
    scores = [track.score("tag0") for track in everything.tracks]
    assert everything.total == 6 and scores == sorted(scores, reverse=True) and everything.tags == ["tag0"]
    page = service.find(query="tag0 >= 0", sort=True, offset=2, limit=3)
    assert page.total == 6 and [t.id for t in page.tracks] == [t.id for t in everything.tracks[2:5]]
    assert [t.path for t in service.find(search="T3").tracks] == [str(music / "t3.wav")]
    with pytest.raises(QueryError):
        service.find(query="tag9 > 0")


def test_similar_track_and_playable(tagged, tmp_path):
    service, music = tagged
    first = service.find().tracks[0]
    assert service.track(first.id).path == first.path
    layer, near = service.similar(track_id=first.id, n=3)
    assert layer == "penultimate" and len(near) == 3 and first.path not in [t.path for t, _ in near]
    similarities = [s for _, s in near]
    assert similarities == sorted(similarities, reverse=True)
    outside = tmp_path / "new.wav"
    sf.write(outside, music_like(3.5, 16000, seed=1), 16000)  # the same audio as t1.wav
    _, by_file = service.similar(path=str(outside), n=1)
    assert by_file[0][0].path == str(music / "t1.wav") and by_file[0][1] == pytest.approx(1.0, abs=1e-3)
    assert service.playable(first.id) == first.path
    with pytest.raises(NotFound):
        service.track(10_000)
    with pytest.raises(NotFound):
        service.playable(10_000)


def test_write_plans_choose_top_k_threshold_and_all(tagged):
    service, _ = tagged
    _, plans = service.write_plans(top_k=2)
    assert all(len(p.fields["MUSICTAG_TAGS"]) == 2 for p in plans)
    _, plans = service.write_plans(top_k=0)
    assert all(len(p.fields["MUSICTAG_TAGS"]) == 5 for p in plans)
    _, plans = service.write_plans(threshold=0.99)
    model, ids, _, scores = service.scores()
    expected = [int((row >= 0.99).sum()) for row in scores]
    assert [len(p.fields["MUSICTAG_TAGS"]) for p in plans] == expected


def test_is_under_is_a_path_test_not_a_prefix_test():
    assert is_under("/music/a.wav", ["/music"]) and is_under("/music", ["/music/"])
    assert not is_under("/music2/a.wav", ["/music"]) and not is_under("/", ["/music"])
    assert is_under("/a/b/c", ["/x", "/a/b"]) and is_under("/anything", ["/"])
