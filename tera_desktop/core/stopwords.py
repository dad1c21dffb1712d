"""English stop words: the one list of words that carry no meaning of their own in a question
or a note ("what", "the", "is", "her", ...). Used to pick a question's content words (follow-ups,
``core/retrieval.py``), to compare facts (``core/supersede.py``) and to tell names and IDs from
ordinary words (``core/query_filters.py``). Lower case; compare with ``folding.fold(word)``."""

from __future__ import annotations

STOPWORDS: frozenset[str] = frozenset({
    # articles, auxiliaries and modals
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "am", "do", "does", "did", "have",
    "has", "had", "can", "could", "would", "should", "will", "shall", "may", "might", "must",
    # question words
    "what", "whats", "what's", "who", "whom", "whose", "which", "when", "where", "why", "how",
    "much", "many",
    # pronouns
    "i", "me", "my", "mine", "we", "us", "our", "you", "your", "he", "she", "him", "her", "his",
    "hers", "they", "them", "their", "it", "its", "it's", "one", "else", "same",
    # prepositions, conjunctions, determiners
    "of", "to", "in", "on", "at", "for", "from", "by", "with", "about", "and", "or", "but", "so",
    "if", "as", "into", "up", "out", "again", "that", "this", "those", "these", "then", "than",
    "there", "here", "any", "some", "every", "each", "all", "since", "until", "after", "before",
    # talk around a question
    "not", "no", "yes", "ok", "okay", "thanks", "thank", "please", "tell", "say", "said", "know",
    "remember", "also", "too", "just", "get", "got", "let", "lets", "now", "going",
})  # fmt: skip
