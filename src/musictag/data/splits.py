"""Split rules: seeded stratified random splits and stratified group k-fold."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from musictag.data.dataset import SPLITS, Item
from musictag.errors import ParameterError


def _check_fractions(fractions: tuple[float, ...]) -> None:
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ParameterError(f"split fractions must be three non-negative numbers adding up to 1, got {fractions}")


def stratified_split(
    items: list[Item], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), *, seed: int = 0
) -> list[str]:
    """Train/valid/test names for ``items``, each class divided in the given fractions.

    Stratified on the first label; within a class the order is shuffled with ``seed`` and
    the counts rounded so that every split gets its share of every class.
    """
    _check_fractions(fractions)
    rng = np.random.default_rng(seed)
    by_class: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        by_class[item.labels[0] if item.labels else ""].append(i)
    result = [""] * len(items)
    for label in sorted(by_class):
        members = rng.permutation(by_class[label])
        n_train = int(round(fractions[0] * len(members)))
        n_valid = int(round((fractions[0] + fractions[1]) * len(members))) - n_train
        for rank, index in enumerate(members):
            result[index] = SPLITS[0] if rank < n_train else SPLITS[1] if rank < n_train + n_valid else SPLITS[2]
    return result


def random_split_sizes(n: int, sizes: tuple[int, int], *, seed: int = 0) -> list[str]:
    """Shuffle ``n`` items and give the first ``sizes[0]`` to train, the next to valid, the rest to test."""
    if sizes[0] + sizes[1] > n:
        raise ParameterError(f"train + valid sizes {sizes} exceed the {n} items")
    order = np.random.default_rng(seed).permutation(n)
    result = [SPLITS[2]] * n
    for rank, index in enumerate(order):
        if rank < sizes[0]:
            result[index] = SPLITS[0]
        elif rank < sizes[0] + sizes[1]:
            result[index] = SPLITS[1]
    return result


#: The fold of items that always train: their class has too few groups to hold one out.
ALWAYS_TRAIN = -1


def stratified_group_kfold(items: list[Item], k: int, *, seed: int = 0) -> list[int]:
    """Fold index (0..k-1) per item: classes balanced across folds, a group never split.

    Items without a group are their own group, which makes this a plain stratified k-fold. When
    items have groups (artists), a class with fewer than ``k`` groups cannot be tested on unseen
    groups: its items get :data:`ALWAYS_TRAIN` and the figures are about the other classes.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    if k < 2:
        raise ParameterError(f"k-fold needs k >= 2, got {k}")
    labels = [item.labels[0] if item.labels else "" for item in items]
    groups = [item.group if item.group is not None else f"\0{i}" for i, item in enumerate(items)]
    smallest = min(np.unique(labels, return_counts=True)[1])
    if smallest < k:
        raise ParameterError(
            f"{k}-fold cross-validation needs at least {k} items per class, found a class with {smallest}"
        )
    per_class = defaultdict(set)
    for label, group in zip(labels, groups, strict=True):
        per_class[label].add(group)
    testable = [i for i, label in enumerate(labels) if len(per_class[label]) >= k]
    if not testable:
        raise ParameterError(f"no class has {k} groups (artists) to hold out: use fewer folds")
    folds = [ALWAYS_TRAIN] * len(items)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    chosen = splitter.split(np.zeros(len(testable)), [labels[i] for i in testable], [groups[i] for i in testable])
    for fold, (_, test) in enumerate(chosen):
        for index in test:
            folds[testable[index]] = fold
    return folds


def group_kfold(items: list[Item], k: int, *, seed: int = 0) -> list[int]:
    """Fold index per item for multi-label data: groups (or single items) dealt to folds in a
    seeded random order, the next group always going to the currently smallest fold."""
    if k < 2 or k > len(items):
        raise ParameterError(f"k-fold needs 2 <= k <= {len(items)} items, got {k}")
    groups: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        groups[item.group if item.group is not None else f"\0{i}"].append(i)
    order = np.random.default_rng(seed).permutation(len(groups))
    names = list(groups)
    sizes, folds = [0] * k, [0] * len(items)
    for position in order:
        members = groups[names[position]]
        target = sizes.index(min(sizes))
        sizes[target] += len(members)
        for index in members:
            folds[index] = target
    return folds


def fold_splits(folds: list[int], fold: int, *, valid_fold: int | None = None) -> list[str]:
    """Split names for cross-validation round ``fold``: that fold is test, another valid, the rest train."""
    k = max(folds) + 1
    valid_fold = (fold + 1) % k if valid_fold is None else valid_fold
    return [SPLITS[2] if f == fold else SPLITS[1] if f == valid_fold else SPLITS[0] for f in folds]


def kfold_assignment(items: list[Item], k: int, *, task: str, seed: int = 0) -> list[int]:
    """Fold index per item for k-fold cross-validation: stratified and group-aware for single-label
    data (:func:`stratified_group_kfold`), group-aware for multi-label data (:func:`group_kfold`)."""
    kfold = stratified_group_kfold if task == "single-label" else group_kfold
    return kfold(items, k, seed=seed)


def kfold_pairs(items: list[Item], k: int, *, task: str, seed: int = 0) -> list[tuple[list[Item], list[Item]]]:
    """The (train, test) items of each of the ``k`` folds of :func:`kfold_assignment` (items of
    :data:`ALWAYS_TRAIN` are in every train set)."""
    assignment = kfold_assignment(items, k, task=task, seed=seed)
    return [
        (
            [i for i, f in zip(items, assignment, strict=True) if f != fold],
            [i for i, f in zip(items, assignment, strict=True) if f == fold],
        )
        for fold in range(k)
    ]
