"""Facts that update earlier facts, written for Tera's tests and benchmark (issue 12, point 5).

``UPDATES``: (older fact, newer fact, a question both answer): the newer one must win.
``NOT_UPDATES``: pairs that look alike but are two different facts: neither replaces the other.
``DISTRACTORS``: other facts stored around them.
"""

from __future__ import annotations

UPDATES: list[tuple[str, str, str]] = [
    (
        "The recycling goes out on Tuesdays.",
        "From March the recycling goes out on Thursdays.",
        "When does the recycling go out?",
    ),
    ("The gate code is 4512.", "The gate code changed to 7788.", "What is the gate code?"),
    (
        "My dentist is Dr. Smith on Baker Street.",
        "My dentist is now Dr. Patel on King Road.",
        "Who is my dentist?",
    ),
    (
        "Anna's phone number is 555-0134.",
        "Anna's new phone number is 555-0199.",
        "What is Anna's phone number?",
    ),
    (
        "The team meeting is on Mondays at 10.",
        "The team meeting moved to Wednesdays at 2.",
        "When is the team meeting?",
    ),
    (
        "The wifi password is bluefish22.",
        "The wifi password is now orangecat91.",
        "What is the wifi password?",
    ),
    ("Tom lives in Leeds.", "Tom lives in Bristol now.", "Where does Tom live?"),
    (
        "The car insurance renews in June.",
        "The car insurance now renews in September.",
        "When does the car insurance renew?",
    ),
    ("The gym opens at 6am.", "The gym now opens at 7am.", "When does the gym open?"),
    (
        "My passport expires in 2027.",
        "My new passport expires in 2035.",
        "When does my passport expire?",
    ),
    (
        "The cat eats Royal Canin food.",
        "The cat now eats Purina food.",
        "What food does the cat eat?",
    ),
    (
        "The landlord's email is jo@flats.example.",
        "The landlord's email changed to jo.new@flats.example.",
        "What is the landlord's email?",
    ),
]

NOT_UPDATES: list[tuple[str, str]] = [
    ("Anna likes green tea.", "Ben likes green tea."),
    ("My cat is blue.", "My dog is blue."),
    ("The gate code is 4512.", "The garage code is 9921."),
    ("The recycling goes out on Tuesdays.", "The recycling bins are green."),
    ("The gym opens at 6am.", "The gym opens at 6am on weekdays."),
    # taken for updates before the words test compared subjects (found in conversation_sets.py)
    ("Project Falcon's budget is 2.3 million euros.", "Project Heron's budget is 800,000 euros."),
    ("The wifi network at home is called Tulip.", "The Tulip wifi password is sunflower-42."),
    ("The holiday flat is in Rovinj.", "The Rovinj holiday flat's key box code is 3390."),
]

DISTRACTORS: list[str] = [
    "The spare key is under the blue flower pot.",
    "Grandma's birthday is on the 4th of May.",
    "The boiler was serviced in October.",
    "Paris is the capital of France.",
    "The bins are collected from the front of the house.",
    "My bike lock code is 3390.",
]
