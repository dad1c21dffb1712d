"""The project's own conversation test sets, shared by the tests and the benchmarks.

- ``FOLLOW_UPS``: a question, then a follow-up that only makes sense after it ("What is her office
  number?"), with a competing fact that matches the follow-up's words about someone else. All the
  facts of all the pairs live in one memory, so every follow-up has rivals.
- ``NOT_IN_SOURCES``: questions whose sources are on the topic but do not hold the answer ("When
  does the dentist's practice open?" when only its address is stored).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FollowUp:
    facts: tuple[str, ...]  # the subject, the answer, and a rival answer about someone else
    first: str
    follow_up: str
    expect: str  # a substring of the fact that answers the follow-up
    rival: str  # a substring of the competing fact


FOLLOW_UPS: tuple[FollowUp, ...] = (
    FollowUp(
        ("My accountant is Maria Keller.", "Maria Keller's office number is 030 5551234.",
         "The plumber Tom Berger's office number is 0171 5559876."),
        "Who is my accountant?", "What is her office number?", "030 5551234", "0171 5559876"),
    FollowUp(
        ("My dentist is Dr. Rossi.", "Dr. Rossi's practice is at Via Roma 12.",
         "The vet's practice is at Lindenstrasse 4."),
        "Who is my dentist?", "Where is his practice?", "Via Roma 12", "Lindenstrasse 4"),
    FollowUp(
        ("Anna is my sister.", "Anna's birthday is on 14 March.",
         "Tom's birthday is on 2 August."),
        "Who is Anna?", "When is her birthday?", "14 March", "2 August"),
    FollowUp(
        ("I drive a blue Skoda Octavia.", "The Skoda's license plate is B-TK 4821.",
         "The motorbike's license plate is M-XY 991."),
        "What car do I drive?", "What is its license plate?", "B-TK 4821", "M-XY 991"),
    FollowUp(
        ("Our landlord is Mr. Hoffmann.", "Mr. Hoffmann's email is hoffmann@immo-berlin.de.",
         "The school's email is office@gs-mitte.de."),
        "Who is our landlord?", "What is his email?", "hoffmann@immo-berlin.de",
        "office@gs-mitte.de"),
    FollowUp(
        ("My gym is FitBox on Kantstrasse.", "FitBox opens at 6:00 on weekdays.",
         "The library opens at 10:00 on weekdays."),
        "Which gym do I go to?", "When does it open?", "6:00", "10:00"),
    FollowUp(
        ("Project Falcon is led by Maria Lopez.", "Project Falcon's budget is 2.3 million euros.",
         "Project Heron's budget is 800,000 euros."),
        "Who leads Project Falcon?", "What is its budget?", "2.3 million", "800,000"),
    FollowUp(
        ("The wifi network at home is called Tulip.", "The Tulip wifi password is sunflower-42.",
         "The office wifi password is Kestrel-2024."),
        "What is the home wifi called?", "And its password?", "sunflower-42", "Kestrel-2024"),
    FollowUp(
        ("Our babysitter is Lena Braun.", "Lena Braun's phone number is 0176 2233445.",
         "The pediatrician's phone number is 030 9988776."),
        "Who is our babysitter?", "What's her phone number?", "0176 2233445", "030 9988776"),
    FollowUp(
        ("My insurance broker is Jonas Weber.", "Jonas Weber works at Allround Versicherungen.",
         "My brother works at Siemens in Munich."),
        "Who is my insurance broker?", "Where does he work?", "Allround", "Siemens"),
    FollowUp(
        ("The kids go to Grundschule Mitte.",
         "Grundschule Mitte's summer holidays start on 9 July.",
         "The university's semester holidays start on 14 October."),
        "Which school do the kids go to?", "When do their holidays start?", "9 July",
        "14 October"),
    FollowUp(
        ("My favourite restaurant is Trattoria Da Luca.", "Trattoria Da Luca is closed on Mondays.",
         "The bakery on the corner is closed on Sundays."),
        "What is my favourite restaurant?", "Which day is it closed?", "Mondays", "Sundays"),
    FollowUp(
        ("Grandma Ilse lives in Lübeck.", "Grandma Ilse's street address is Mühlenstrasse 7.",
         "Uncle Peter's street address is Bergweg 3."),
        "Where does Grandma Ilse live?", "What is her street address?", "Mühlenstrasse 7",
        "Bergweg 3"),
    FollowUp(
        ("Our router is a FritzBox 7590.", "The FritzBox admin PIN is 7731.",
         "The alarm system admin PIN is 0452."),
        "Which router do we have?", "What is its admin PIN?", "7731", "0452"),
    FollowUp(
        ("My tax advisor is Petra Schulz.", "Petra Schulz charges 120 euros per hour.",
         "The lawyer charges 250 euros per hour."),
        "Who is my tax advisor?", "How much does she charge per hour?", "120 euros",
        "250 euros"),
    FollowUp(
        ("Our cat is called Miso.", "Miso's vet appointment is on 3 December.",
         "The dog's vet appointment is on 20 November."),
        "What is our cat called?", "When is its vet appointment?", "3 December", "20 November"),
    FollowUp(
        ("My running partner is Sven.", "Sven's shoe size is 44.", "Lisa's shoe size is 38."),
        "Who is my running partner?", "What is his shoe size?", "44", "38"),
    FollowUp(
        ("The holiday flat is in Rovinj.", "The Rovinj holiday flat's key box code is 3390.",
         "The garage key box code is 1185."),
        "Where is the holiday flat?", "What is the key box code there?", "3390", "1185"),
    FollowUp(
        ("The quarterly report goes to Frank Meyer.",
         "Frank Meyer's deadline for the report is 15 January.",
         "Karin Vogel's deadline for the audit is 30 June."),
        "Who gets the quarterly report?", "What is his deadline?", "15 January", "30 June"),
    FollowUp(
        ("My bike is a Gazelle city bike.", "The Gazelle's frame number is GZ-88314.",
         "The e-scooter's frame number is ES-10277."),
        "What bike do I have?", "What is its frame number?", "GZ-88314", "ES-10277"),
    FollowUp(
        ("Our electricity supplier is Vattenfall.",
         "The Vattenfall customer number is 40-118-2273.",
         "The gas supplier's customer number is 77-500-1212."),
        "Who supplies our electricity?", "What is their customer number?", "40-118-2273",
        "77-500-1212"),
    FollowUp(
        ("The piano teacher is Mrs. Ito.", "Mrs. Ito's lessons are on Thursdays at 16:00.",
         "The swimming lessons are on Tuesdays at 17:00."),
        "Who is the piano teacher?", "When are her lessons?", "Thursdays", "Tuesdays"),
    FollowUp(
        ("Anna's birthday is on 14 March.", "Tom's birthday is on 2 August."),
        "When is Anna's birthday?", "What about Tom?", "2 August", "14 March"),
)  # fmt: skip


@dataclass(frozen=True)
class NotInSources:
    question: str
    topic: str  # a substring of the on-topic source that should be found


NOT_IN_SOURCES: tuple[NotInSources, ...] = (
    NotInSources("When does Dr. Rossi's practice open on Saturdays?", "Via Roma"),
    NotInSources("What is Maria Keller's email address?", "Maria Keller"),
    NotInSources("How much does Jonas Weber charge?", "Jonas Weber"),
    NotInSources("When is Sven's birthday?", "Sven"),
    NotInSources("What is the FritzBox wifi password?", "FritzBox"),
    NotInSources("How old is Miso?", "Miso"),
    NotInSources("When did I buy the Skoda?", "Skoda"),
    NotInSources("What is Mrs. Ito's phone number?", "Mrs. Ito"),
    NotInSources("When does FitBox close?", "FitBox"),
    NotInSources("How much is the rent for the holiday flat in Rovinj?", "Rovinj"),
    NotInSources("When does Grandma Ilse's train arrive?", "Grandma Ilse"),
    NotInSources("How many employees does Allround Versicherungen have?", "Allround"),
)


def all_facts() -> list[str]:
    """Every fact of the sets, once, in a stable order."""
    out: list[str] = []
    for pair in FOLLOW_UPS:
        for fact in pair.facts:
            if fact not in out:
                out.append(fact)
    return out


# --- The evaluation set written apart from the code (issue 21) --------------------------------
# ``eval_sets/dev_v1.json`` is the half to tune on; ``eval_sets/heldout_v1.json`` is never tuned
# on and never edited (``tests/test_eval_sets.py`` pins its sha256). Layout: see their "about".

EVAL_SETS_DIR = Path(__file__).resolve().parent / "eval_sets"
HELDOUT_SHA256 = "1894d7ecf5b09acab8e032621dc98bd422bfb008ff94fd9cf2ab0b4cf5279959"
EVAL_SPLITS = ("dev", "heldout")


def eval_set_path(split: str) -> Path:
    if split not in EVAL_SPLITS:
        raise ValueError(f"unknown split {split!r}; one of {EVAL_SPLITS}")
    return EVAL_SETS_DIR / f"{split}_v1.json"


def load_eval_set(split: str) -> dict[str, Any]:
    """One half of the evaluation set, as stored (see the file's "about")."""
    data: dict[str, Any] = json.loads(eval_set_path(split).read_text(encoding="utf-8"))
    return data


def memory_of(item: dict[str, Any]) -> str:
    """Which memory an item lives in: "shared" or "small:<name>"."""
    return str(item.get("memory", "shared"))


def eval_memories(data: dict[str, Any]) -> dict[str, list[str]]:
    """Every memory of one half and the texts it holds, in the order they are remembered.

    An update's older fact comes before its newer one (updates last, so the rest is there)."""
    memories: dict[str, list[str]] = {"shared": []}
    for name, texts in data.get("small_memories", {}).items():
        memories[f"small:{name}"] = list(texts)

    def add(memory: str, text: str) -> None:
        texts = memories.setdefault(memory, [])
        if text not in texts:
            texts.append(text)

    for section in ("follow_ups", "near_misses", "answerable"):
        for item in data.get(section, []):
            for fact in item.get("facts", []):
                add(memory_of(item), fact)
    for item in data.get("updates", []):
        add("shared", item["old"])
    for item in data.get("updates", []):
        add("shared", item["new"])
    return memories
