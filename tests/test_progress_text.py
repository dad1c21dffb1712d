"""Progress inside a long recording, in words the CLI and the app show."""

from __future__ import annotations

from tera_desktop.core.ingest.pipeline import IngestProgress


def test_minutes_transcribed_of_minutes_total() -> None:
    p = IngestProgress(0, 1, 0, "/notes/standup.m4a", 190.0, 720.0, "s")
    assert p.within_file == "Transcribing standup.m4a: 3:10 of 12:00"
    assert IngestProgress(0, 1, 0, "/a.m4a", 61.0, 0.0, "s").within_file == (
        "Transcribing a.m4a: 1:01"
    )
    assert IngestProgress(1, 2, 5, "/a.txt").within_file == ""
