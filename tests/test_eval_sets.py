"""The evaluation set of issue 21: the held-out half is frozen, both halves are well formed."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from tera_desktop.testing.conversation_sets import (
    EVAL_SPLITS,
    HELDOUT_SHA256,
    eval_memories,
    eval_set_path,
    load_eval_set,
)

SECTIONS = ("follow_ups", "updates", "near_misses", "answerable")


def test_the_held_out_half_is_frozen() -> None:
    # Never tune on it, never edit it: a new held-out set is a new file (heldout_v2.json).
    digest = hashlib.sha256(eval_set_path("heldout").read_bytes()).hexdigest()
    assert digest == HELDOUT_SHA256


def test_at_least_150_items_across_both_halves() -> None:
    total = sum(len(load_eval_set(s)[k]) for s in EVAL_SPLITS for k in SECTIONS)
    assert total >= 150


@pytest.mark.parametrize("split", EVAL_SPLITS)
def test_every_item_is_well_formed(split: str) -> None:
    data = load_eval_set(split)
    assert data["split"] == split
    memories = eval_memories(data)
    ids = [item["id"] for k in SECTIONS for item in data[k]]
    assert len(ids) == len(set(ids))
    for item in data["follow_ups"]:
        assert len(item["turns"]) >= 2
        text = " ".join(item["facts"]).lower()
        assert item["expect"].lower() in text and item["rival"].lower() in text
        answer = next(f for f in item["facts"] if item["expect"].lower() in f.lower())
        assert item["rival"].lower() not in answer.lower(), item["id"]
    for item in data["updates"]:
        assert item["current"].lower() in item["new"].lower(), item["id"]
        assert item["stale"].lower() in item["old"].lower(), item["id"]
        assert item["current"].lower() not in item["old"].lower(), item["id"]
    for item in data["near_misses"]:
        memory = memories[item.get("memory", "shared")]
        if item["topic"] is not None:
            assert any(item["topic"].lower() in t.lower() for t in memory), item["id"]
    for item in data["answerable"]:
        memory = memories[item.get("memory", "shared")]
        assert any(item["expect"].lower() in t.lower() for t in memory), item["id"]


def test_the_halves_share_no_question() -> None:
    dev, held = (load_eval_set(s) for s in EVAL_SPLITS)

    def questions(d: dict) -> set[str]:  # type: ignore[type-arg]
        out = {i["question"] for k in ("updates", "near_misses", "answerable") for i in d[k]}
        return out | {i["turns"][-1] for i in d["follow_ups"]}

    assert not questions(dev) & questions(held)


# ---- the update sets v2 (issue 21): written and frozen before the recogniser was tuned for them
UPDATES_V2_DIR = eval_set_path("dev").parent
HELDOUT_UPDATES_V2_SHA256 = "492186ce471282765f2d5ace07655ff047533c054e41f9393cde25fe41ca2b18"
UPDATE_SPLITS_V2 = ("dev_updates_v2", "heldout_updates_v2")


def _load_v2(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((UPDATES_V2_DIR / f"{name}.json").read_text("utf-8"))
    return data


def test_the_held_out_update_set_v2_is_frozen() -> None:
    # Never tune on it, never edit it: a new held-out set is a new file (heldout_updates_v3.json).
    path = UPDATES_V2_DIR / "heldout_updates_v2.json"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == HELDOUT_UPDATES_V2_SHA256


def test_the_held_out_update_set_v2_is_big_enough() -> None:
    data = _load_v2("heldout_updates_v2")
    assert len(data["updates"]) >= 24 and len(data["look_alikes"]) >= 10


@pytest.mark.parametrize("name", UPDATE_SPLITS_V2)
def test_every_v2_update_item_is_well_formed(name: str) -> None:
    data = _load_v2(name)
    ids = [i["id"] for k in ("updates", "look_alikes") for i in data[k]]
    assert len(ids) == len(set(ids))
    for item in data["updates"]:
        old, new = item["old"].lower(), item["new"].lower()
        assert item["current"].lower() in new, item["id"]
        assert item["stale"].lower() in old, item["id"]
        assert item["current"].lower() not in old, item["id"]
        assert item["rivals"] and all(r.lower() not in (old, new) for r in item["rivals"])
    for item in data["look_alikes"]:
        assert item["first"] != item["second"], item["id"]


def test_the_v2_update_sets_share_no_question_with_each_other_or_v1() -> None:
    dev, held = (_load_v2(n) for n in UPDATE_SPLITS_V2)
    v1 = {i["question"] for s in EVAL_SPLITS for i in load_eval_set(s)["updates"]}
    dev_q = {i["question"] for i in dev["updates"]}
    held_q = {i["question"] for i in held["updates"]}
    assert not dev_q & held_q and not held_q & v1
