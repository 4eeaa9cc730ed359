"""Data-set adapters and split rules on small fixtures made here (and on shared data when present)."""

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from musictag.cli.main import main
from musictag.data import open_dataset, parse_spec
from musictag.data.gtzan import GENRES, clip_id, load_gtzan
from musictag.data.mtt import SYNONYMS, load_mtt, merge_synonyms, read_annotations, top_tags
from musictag.data.splits import (
    fold_splits,
    kfold_pairs,
    random_split_sizes,
    stratified_group_kfold,
    stratified_split,
)
from musictag.errors import ParameterError
from musictag.training.recipe import Recipe

from conftest import tone, write_annotations


@pytest.fixture
def gtzan_root(tmp_path, write_audio):
    """A GTZAN-shaped folder: 4 clips per genre, mixing .wav, .au and .flac, in genres/<genre>/."""
    for genre in GENRES:
        for n in range(4):
            ext = ("wav", "au", "flac", "wav")[n]
            write_audio(f"gtzan/genres/{genre}/{genre}.{n:05d}.{ext}", tone(0.3, 8000, 200 + 20 * n), 8000)
    return tmp_path / "gtzan"


def write_lists(folder, assignments: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "valid", "test"):
        lines = [f"{cid.split('.')[0]}/{cid}.wav" for cid, s in assignments.items() if s == split]
        (folder / f"{split}_filtered.txt").write_text("\n".join(lines) + "\n")


def test_clip_ids_from_every_naming():
    assert clip_id("blues/blues.00029.wav") == "blues.00029"
    assert clip_id("./blues_00000.wav") == "blues.00000"
    assert clip_id("jazz.00054.au") == "jazz.00054"
    assert clip_id("hiphop.00001.FLAC") == "hiphop.00001"
    assert clip_id("notes.txt") is None and clip_id("blues.1.wav") is None


def test_gtzan_layout_by_stem_and_fault_filtered_lists(gtzan_root, tmp_path):
    assignments = {f"{g}.{n:05d}": ("train", "valid", "test")[n % 3] for g in GENRES for n in range(3)}
    assignments["rock.00099"] = "test"  # listed but absent on disk
    write_lists(tmp_path / "lists", assignments)
    data = load_gtzan(gtzan_root, split="fault-filtered", lists=tmp_path / "lists")
    assert data.vocabulary == list(GENRES) and data.task == "single-label"
    assert len(data) == 30  # clip 00003 of each genre is in no list
    assert Counter(i.split for i in data.items) == {"train": 10, "valid": 10, "test": 10}
    assert {i.path.suffix for i in data.items} == {".wav", ".au", ".flac"}
    assert any("rock.00099" in p and "no audio file" in p for p in data.problems)
    assert sum("in no fault-filtered split list" in p for p in data.problems) == 10
    np.testing.assert_array_equal(data.targets(data.items[:2]), [0, 0])


def test_gtzan_artist_folds_with_groups(gtzan_root, tmp_path):
    lists = tmp_path / "artist"
    lists.mkdir()
    rows = {g: [f"./{g}_{n:05d}.wav" for n in range(4)] for g in GENRES}
    train = [(r, g, f"{g}-artist{n // 2}") for g in GENRES for n, r in enumerate(rows[g]) if n < 2]
    evaluate = [(r, g, f"{g}-artist{n // 2}") for g in GENRES for n, r in enumerate(rows[g]) if n >= 2]
    (lists / "f2_train.txt").write_text("".join(f"{r}\t{g}\n" for r, g, _ in train))
    (lists / "f2_evaluate.txt").write_text("".join(f"{r}\t{g}\n" for r, g, _ in evaluate))
    (lists / "f2_train_groups.txt").write_text("".join(f"{r}\t{a}\n" for r, _, a in train))
    (lists / "f2_evaluate_groups.txt").write_text("".join(f"{r}\t{a}\n" for r, _, a in evaluate))
    data = open_dataset(f"gtzan:{gtzan_root}?split=artist3&fold=2&lists={lists}")
    assert Counter(i.split for i in data.items) == {"train": 20, "test": 20}
    assert data.name == f"gtzan:{gtzan_root.name} (artist3 fold 2)"
    by_group = {}
    for item in data.items:
        by_group.setdefault(item.group, set()).add(item.split)
    assert len(by_group) == 20 and all(len(s) == 1 for s in by_group.values())  # no artist on both sides
    with pytest.raises(ParameterError, match="f1_train.txt"):
        open_dataset(f"gtzan:{gtzan_root}?split=artist3&fold=1&lists={lists}")


def test_stratified_random_split_is_seeded_and_balanced(gtzan_root):
    data = open_dataset(f"gtzan:{gtzan_root}?split=random&fractions=0.5,0.25,0.25&seed=3")
    per_genre = Counter((i.labels[0], i.split) for i in data.items)
    assert all(per_genre[(g, "train")] == 2 and per_genre[(g, "valid")] == 1 for g in GENRES)
    again = open_dataset(f"gtzan:{gtzan_root}?split=random&fractions=0.5,0.25,0.25&seed=3")
    assert [i.split for i in again.items] == [i.split for i in data.items]
    other = open_dataset(f"gtzan:{gtzan_root}?split=random&fractions=0.5,0.25,0.25&seed=4")
    assert [i.split for i in other.items] != [i.split for i in data.items]
    with pytest.raises(ParameterError, match="adding up to 1"):
        stratified_split(data.items, (0.5, 0.5, 0.5))


def test_stratified_group_kfold(gtzan_root):
    data = open_dataset(str(gtzan_root))  # kind guessed from the clip names
    assert data.name == f"gtzan:{gtzan_root.name}" and all(i.split is None for i in data.items)
    grouped = [i.__class__(i.id, i.path, i.labels, None, f"{i.labels[0]}-{int(i.id[-1]) // 2}") for i in data.items]
    folds = stratified_group_kfold(grouped, 2, seed=0)
    for group in {i.group for i in grouped}:
        assert len({f for f, i in zip(folds, grouped, strict=True) if i.group == group}) == 1
    for fold in (0, 1):
        assert Counter(i.labels[0] for f, i in zip(folds, grouped, strict=True) if f == fold) == dict.fromkeys(
            GENRES, 2
        )
    plain = stratified_group_kfold(data.items, 4, seed=1)
    assert Counter(plain) == dict.fromkeys(range(4), 10)
    assert fold_splits(plain, 0).count("test") == 10 and fold_splits(plain, 0).count("valid") == 10
    with pytest.raises(ParameterError, match="at least 5 items per class"):
        stratified_group_kfold(data.items, 5)


@pytest.fixture
def mtt_root(tmp_path, write_audio):
    """An MTT-shaped folder: 32 clips in folders 0-f, tags with known frequencies, one empty mp3."""
    tags = ["drums", "guitar", "classical", "beats", "beat", "piano", "woman", "female", "quiet"]
    rows = []
    rng = np.random.default_rng(0)
    for i in range(32):
        folder = "0123456789abcdef"[i // 2]
        mp3 = f"{folder}/artist{i // 4}-album-{i % 4:02d}-0-29.mp3"
        present = [t for j, t in enumerate(tags) if rng.random() < (0.9 - 0.09 * j)]
        rows.append((str(i * 3), present, mp3))
        path = tmp_path / "mtt" / mp3
        if i == 5:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")  # the archive has a few empty mp3s
        else:
            write_audio(f"mtt/{mp3}", tone(0.2, 16000), 16000, format="MP3")
    write_annotations(tmp_path / "mtt" / "annotations_final.csv", tags, rows)
    return tmp_path / "mtt"


def test_mtt_annotations_folder_split_and_empty_files(mtt_root):
    ids, mp3s, tags, matrix = read_annotations(mtt_root / "annotations_final.csv")
    assert len(ids) == 32 and tags[0] == "drums" and matrix.shape == (32, 9)
    data = load_mtt(mtt_root, top=5)
    assert data.task == "multi-label" and data.vocabulary == top_tags(tags, matrix, 5)
    assert len(data) == 31 and any("empty file" in p for p in data.problems)
    assert Counter(i.split for i in data.items) == {"train": 23, "valid": 2, "test": 6}  # 0-b, c, d-f
    targets = data.targets()
    assert targets.shape == (31, 5) and set(np.unique(targets)) <= {0.0, 1.0}


def test_mtt_synonyms_merge_as_logical_or():
    tags = ["beat", "beats", "woman", "female", "piano"]
    matrix = np.array([[1, 0, 0, 1, 0], [0, 1, 1, 0, 1], [0, 0, 0, 0, 0]], dtype=np.uint8)
    names, merged = merge_synonyms(tags, matrix)
    assert names == ["beat", "female", "piano"]
    np.testing.assert_array_equal(merged, [[1, 1, 0], [1, 1, 1], [0, 0, 0]])
    assert all(group[0] not in group[1:] for group in SYNONYMS)


def test_mtt_top50_reproduces_musicnn_label_order(tmp_path, shared_data):
    """A fixture whose tag counts follow MTT's: the adapter must give musicnn's 50-tag order."""
    text = (shared_data / "mtt" / "output_labels_mtt.txt").read_text()
    expected = json.loads(text[text.index("[") : text.rindex("]") + 1].replace("'", '"'))
    extra = ["rare tag", "another rare tag"]
    tags = sorted(expected + extra)  # file column order differs from frequency order
    rows = []
    for clip in range(120):
        present = [t for rank, t in enumerate(expected) if clip < 110 - 2 * rank] + (extra if clip < 3 else [])
        rows.append((str(clip), present, f"{'0123456789abcdef'[clip % 16]}/x-{clip}.mp3"))
    write_annotations(tmp_path / "annotations_final.csv", tags, rows)
    data = load_mtt(tmp_path / "annotations_final.csv", top=50)
    assert data.vocabulary == expected


def test_mtt_index_split_from_musicnn_files(mtt_root, tmp_path):
    index = tmp_path / "index"
    index.mkdir()
    (index / "val_gt_mtt.tsv").write_text("0\t[0.0]\n3\t[1.0]\n")
    (index / "test_gt_mtt.tsv").write_text("6\t[0.0]\n9\t[0.0]\n12\t[0.0]\n")
    data = open_dataset(f"mtt:{mtt_root}?split=index&index={index}&top=3")
    assert Counter(i.split for i in data.items) == {"train": 26, "valid": 2, "test": 3}
    sizes = random_split_sizes(100, (70, 20), seed=1)
    assert Counter(sizes) == {"train": 70, "valid": 20, "test": 10}
    data = open_dataset(f"mtt:{mtt_root}?split=random&sizes=20,5&seed=2&merge=true")
    assert "beats" not in data.vocabulary and Counter(i.split for i in data.items)["valid"] <= 5


def test_label_folders_and_manifest(tmp_path, write_audio):
    for label in ("calm", "loud"):
        for n in range(3):
            write_audio(f"own/{label}/{n}.wav", tone(0.2, 8000), 8000)
    data = open_dataset(str(tmp_path / "own"))
    assert data.vocabulary == ["calm", "loud"] and len(data) == 6 and data.task == "single-label"
    manifest = tmp_path / "own" / "labels.csv"
    manifest.write_text(
        "path,labels,split,group\ncalm/0.wav,calm;soft,train,a\nloud/1.wav,loud,test,b\nmissing.wav,loud,valid,c\n"
    )
    data = open_dataset(str(manifest))
    assert data.task == "multi-label" and data.vocabulary == ["calm", "loud", "soft"]
    assert [(i.split, i.group) for i in data.items] == [("train", "a"), ("test", "b")]
    assert data.items[0].path == tmp_path / "own" / "calm" / "0.wav"
    assert any("missing.wav" in p for p in data.problems)
    tsv = tmp_path / "own" / "labels.tsv"
    tsv.write_text("path\tlabels\ncalm/1.wav\tcalm\nloud/2.wav\tloud\n")
    assert len(open_dataset(f"manifest:{tsv}?split=random&fractions=0.5,0,0.5")) == 2


def test_spec_parsing_and_errors(tmp_path):
    assert parse_spec("gtzan:/d/g?split=random&seed=2") == (
        "gtzan",
        tmp_path.__class__("/d/g"),
        {"split": "random", "seed": "2"},
    )
    assert parse_spec("/plain/path")[0] is None
    (tmp_path / "blues").mkdir()
    with pytest.raises(ParameterError, match="unknown options"):
        open_dataset(f"gtzan:{tmp_path}?colour=red")
    with pytest.raises(ParameterError, match="unknown GTZAN split"):
        open_dataset(f"gtzan:{tmp_path}?split=sideways")
    with pytest.raises(ParameterError, match="bad option value"):
        open_dataset(f"gtzan:{tmp_path}?split=random&seed=abc")


def test_data_info_command(capsys, gtzan_root, tmp_path):
    (gtzan_root / "genres" / "jazz" / "jazz.00054.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    code = main(["data", "info", str(gtzan_root), "--check", "--quiet", "--format", "json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["items"] == 41 and summary["per_label"]["jazz"]["(none)"] == 5
    assert any("jazz.00054.wav" in p for p in summary["problems"])  # the corrupt clip is reported


def test_shared_gtzan_mini_against_both_split_files(shared_data, capsys):
    root, lists = shared_data / "gtzan_mini", shared_data / "splits"
    fault = open_dataset(f"gtzan:{root}?split=fault-filtered&lists={lists / 'gtzan_fault_filtered'}")
    artist = open_dataset(f"gtzan:{root}?split=artist3&fold=1&lists={lists / 'gtzan_artist_3fold'}")
    assert len(fault) + sum("in no fault-filtered split list" in p for p in fault.problems) == 100
    assert len(artist) == 100 and {i.split for i in artist.items} == {"train", "test"}
    assert all(i.group is not None for i in artist.items)
    code = main(
        ["data", "info", f"gtzan:{root}?split=fault-filtered&lists={lists / 'gtzan_fault_filtered'}", "--items"]
    )
    out = capsys.readouterr().out
    assert code == 0 and "blues.00000  valid" in out


def test_group_kfold_for_multi_label_keeps_groups_together(tmp_path):
    from musictag.data.dataset import Item
    from musictag.data.splits import group_kfold

    items = [Item(str(i), tmp_path, ("a", "b"), group=f"album{i // 3}") for i in range(30)]
    folds = group_kfold(items, 5, seed=0)
    assert Counter(folds) == dict.fromkeys(range(5), 6)
    for album in range(10):
        assert len({folds[i] for i in range(30) if items[i].group == f"album{album}"}) == 1
    assert group_kfold(items, 5, seed=0) == folds and group_kfold(items, 5, seed=1) != folds


def test_artist_groups_hold_out_artists_and_classes_with_too_few_always_train(gtzan_root, tmp_path):
    lists = tmp_path / "artist3"
    lists.mkdir()
    clips = sorted(p.stem for p in gtzan_root.rglob("*.*") if p.suffix in (".wav", ".au", ".flac"))
    for number in (1, 2, 3):
        for name in ("train", "evaluate"):
            (lists / f"f{number}_{name}_groups.txt").write_text(
                "".join(
                    f"./{cid.replace('.', '_')}.wav\t{cid.split('.')[0] if cid.startswith('blues') else cid}\n"
                    for cid in clips
                )  # blues: one artist; every other clip its own
            )
    data = open_dataset(f"gtzan:{gtzan_root}?groups=artist&lists={lists}")
    pairs = kfold_pairs(data.items, 2, task=data.task, seed=0)
    for train, test in pairs:
        assert not {i.group for i in train} & {i.group for i in test}
        assert all(i.labels[0] != "blues" for i in test) and any(i.labels[0] == "blues" for i in train)


def test_home_is_expanded_in_specs_and_recipe_paths_are_read_against_the_recipe(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    kind, path, options = parse_spec("gtzan:~/data?lists=~/splits&split=fault-filtered")
    assert (kind, path, options["lists"]) == ("gtzan", tmp_path / "data", str(tmp_path / "splits"))
    folder = tmp_path / "recipes"
    folder.mkdir()
    (folder / "r.yaml").write_text("kind: transfer\ndata: gtzan:../music?lists=../lists\n")
    recipe = Recipe.load(folder / "r.yaml")
    _, path, options = parse_spec(recipe.data)
    assert path.resolve() == (tmp_path / "music").resolve() and Path(options["lists"]).resolve() == tmp_path / "lists"
    assert Recipe.load(folder / "r.yaml", ["data=gtzan:rel"]).data == "gtzan:rel"  # overrides: the working folder
    assert Recipe.load("gtzan-svm").kind == "classical"  # shipped recipes by name


def test_label_folders_with_gtzan_like_names_stay_label_folders(capsys, tmp_path, write_audio):
    write_audio("mine/happy/blues.00010.wav", tone(1.0, 16000), 16000)
    write_audio("mine/sad/mysong.au", tone(1.0, 16000, 300), 16000, format="AU", subtype="PCM_16")
    data = open_dataset(str(tmp_path / "mine"))
    assert data.vocabulary == ["happy", "sad"] and len(data) == 2 and data.layout.startswith("folders (guessed")
    assert main(["data", "info", str(tmp_path / "mine")]) == 0 and "read as folders (guessed" in capsys.readouterr().out
    write_audio("gt/blues/blues.00001.wav", tone(1.0, 16000), 16000)
    write_audio("gt/blues/notes.wav", tone(1.0, 16000), 16000)
    data = open_dataset(f"gtzan:{tmp_path / 'gt'}")
    assert len(data) == 1 and any("notes.wav: not a GTZAN clip name" in p for p in data.problems)


def test_manifests_report_unlabelled_rows_and_refuse_leakage(tmp_path, write_audio):
    a = write_audio("a.wav", tone(1.0, 16000), 16000)
    b = write_audio("b.wav", tone(1.0, 16000, 300), 16000)
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,labels,split\n{a},x,train\n{b},,train\n")
    assert any("has no labels" in p for p in open_dataset(str(manifest)).problems)
    manifest.write_text(f"path,labels,split\n{a},x,train\n{b},y,train\n{a},x,test\n")
    with pytest.raises(ParameterError, match="more than one split"):
        open_dataset(str(manifest))
    assert len(open_dataset(f"manifest:{manifest}?overlap=allow")) == 3
