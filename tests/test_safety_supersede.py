"""Memory that stays current (issue 12, point 5): a fact that updates an earlier one supersedes
it, says so, can be undone, ranks first, and the prompt says which fact is current.

The pair set is ``tera_desktop/testing/supersede_pairs.py`` (12 updates, 8 look-alikes that are not
updates). The tiny embedding model is used here; ``bench/chaos.py --supersede`` measures the same
rate with the real MiniLM model.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tera_desktop.core.engine import Engine
from tera_desktop.core.paths import Paths
from tera_desktop.core.prompts import reference_line, to_source
from tera_desktop.core.retrieval import retrieve
from tera_desktop.core.settings import Settings
from tera_desktop.core.supersede import current_first, is_update, subject_terms
from tera_desktop.testing.conversation_sets import all_facts
from tera_desktop.testing.supersede_pairs import DISTRACTORS, NOT_UPDATES, UPDATES


def test_the_pair_set_is_big_enough() -> None:
    assert len(UPDATES) >= 10 and len(NOT_UPDATES) >= 5


@pytest.mark.parametrize(("old", "new", "_question"), UPDATES)
def test_every_update_reads_as_one(old: str, new: str, _question: str) -> None:
    assert is_update(old, new)


@pytest.mark.parametrize(("old", "new"), NOT_UPDATES)
def test_look_alikes_are_not_updates(old: str, new: str) -> None:
    assert not is_update(old, new)


def test_distinct_facts_about_one_thing_do_not_replace_each_other() -> None:
    """The conversation set's 69 facts are all true at once: a sentence, its subject's other
    attributes ("The Tulip wifi password…" after "The wifi network at home is called Tulip")
    and a namesake's value ("Project Heron's budget") are not updates."""
    facts = all_facts()
    taken = [(a, b) for i, a in enumerate(facts) for b in facts[i + 1 :] if is_update(a, b)]
    assert len(facts) > 60 and taken == []


def test_a_subject_is_the_words_before_the_verb() -> None:
    assert subject_terms("Project Falcon's budget is 2.3 million euros.") == {
        "project", "falcon", "budget",
    }  # fmt: skip
    assert subject_terms("From March the recycling goes out on Thursdays.") == {"recycling"}
    assert subject_terms("Anna's new phone number is 555-0199.") == {"anna", "phone", "number"}
    assert subject_terms("Sunny today.") == {"sunny"}  # no verb it knows: the first word


def newer_first_rate(engine: Engine, *, supersede: bool) -> float:
    """Each pair in a fresh memory (with distractors): how often the newer fact ranks above the
    older one for the pair's question."""
    wins = 0
    for old, new, question in UPDATES:
        engine.store.delete_all(scrub=False)  # a fresh memory (no need to scrub between pairs)
        for fact in DISTRACTORS:
            engine.remember(fact)
        from tera_desktop.core.ingest import remember

        remember(old, engine.embedder, engine.store, supersede=supersede)
        remember(new, engine.embedder, engine.store, supersede=supersede)
        hits = retrieve(question, engine.embedder, engine.store, top_k=8, min_score=0.0).hits
        texts = [h.text for h in hits]
        rank = {t: i for i, t in reversed(list(enumerate(texts)))}
        if rank.get(new, 99) < rank.get(old, 99):
            wins += 1
    return wins / len(UPDATES)


def test_the_newer_fact_ranks_first_after_and_not_always_before(engine: Engine) -> None:
    before = newer_first_rate(engine, supersede=False)
    after = newer_first_rate(engine, supersede=True)
    print(f"newer fact ranked first: before {before:.0%}, after {after:.0%}")
    assert after == 1.0
    assert before < 1.0  # the feature is what makes the difference on this set


def test_remember_says_what_it_replaces_and_undo_keeps_both(engine: Engine) -> None:
    old, new, question = UPDATES[0]
    first = engine.remember(old)
    assert first.replaces is None
    second = engine.remember(new)
    assert second.replaces is not None and second.replaces.id == first.id
    assert second.replaces.text == old
    facts = {f.text: f for f in engine.facts()}
    assert facts[old].superseded_by == second.id and facts[new].superseded_by == ""
    hits = engine.search(question, 4)
    assert hits[0].text == new
    # the prompt names the current fact and when the older one changed
    lines = [reference_line(to_source(i + 1, h)) for i, h in enumerate(hits[:2])]
    assert "current" in lines[0]
    old_line = next(line for line in lines if old in line)
    assert "superseded on " + second.created_at[:10] in old_line
    # undo: both facts current again, nothing deleted
    assert engine.undo_supersede(second.id) == first.id
    assert all(f.superseded_by == "" for f in engine.facts())
    assert engine.count() == 2


def test_look_alikes_do_not_supersede_each_other(engine: Engine) -> None:
    for old, new in NOT_UPDATES:
        engine.forget_all()
        engine.remember(old)
        assert engine.remember(new).replaces is None, (old, new)


def test_a_missing_update_is_brought_into_the_results(engine: Engine) -> None:
    old, new, _question = UPDATES[1]
    engine.remember(old)
    second = engine.remember(new)
    older = [h for h in engine.store.get([f.id for f in engine.facts()]) if h.text == old]
    ranked = current_first(older, engine.store)
    assert [h.text for h in ranked] == [new, old] and ranked[0].id == second.id


def test_the_mark_survives_a_restart(paths: Paths, tiny_settings: Settings, tmp_path: Path) -> None:
    engine = Engine(paths, tiny_settings)
    try:
        engine.remember(UPDATES[2][0])
        engine.remember(UPDATES[2][1])
    finally:
        engine.close()
    engine = Engine(paths, tiny_settings)
    try:
        assert sum(1 for f in engine.facts() if f.superseded_by) == 1
    finally:
        engine.close()


def test_forgetting_the_update_makes_the_older_fact_current(engine: Engine) -> None:
    old, new, _question = UPDATES[5]
    engine.remember(old)
    second = engine.remember(new)
    engine.forget(second.id)
    assert [(f.text, f.superseded_by) for f in engine.facts()] == [(old, "")]


def test_the_command_line_says_what_a_fact_replaces(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tiny_embedding: Path,
) -> None:
    from tera_desktop.cli import main

    monkeypatch.setenv("TERA_EMBEDDING_MODEL", str(tiny_embedding))
    old, new, _question = UPDATES[6]
    assert main(["remember", old]) == 0
    assert main(["remember", new]) == 0
    out = capsys.readouterr().out
    assert f"It replaces an older fact, kept as superseded: {old}" in out
    assert main(["remember", "--keep-both", "Tom lives in Paris now."]) == 0
    assert "replaces" not in capsys.readouterr().out
