"""WhatsApp chat exports: both formats and their variants, kinds of line, day/month order, the
export zip (and zip bombs), titles and sections. Builds its own exports; no Qt, no models."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from tera_desktop.core.errors import IngestError, UnsupportedFileError
from tera_desktop.core.ingest import whatsapp
from tera_desktop.core.ingest.extractors import extractor_for
from tera_desktop.core.ingest.whatsapp import (
    ChatLine,
    chat_name,
    extract_whatsapp,
    extract_whatsapp_text,
    extract_whatsapp_zip,
    looks_like_whatsapp,
    parse_chat,
)

NNBSP = "\u202f"  # narrow no-break space, before AM/PM in newer exports
LRM = "\u200e"  # left-to-right mark, at the start of iOS lines

ANDROID_12H = (
    f"12/31/23, 9:41{NNBSP}PM - Messages and calls are end-to-end encrypted. No one outside of "
    "this chat, not even WhatsApp, can read or listen to them. Tap to learn more.\n"
    f'12/31/23, 9:41{NNBSP}PM - Sam created group "Trip: 2024"\n'
    f"12/31/23, 9:41{NNBSP}PM - Sam added Alex\n"
    f"12/31/23, 9:42{NNBSP}PM - Sam: Happy new year!\n"
    "Gate code is 4321\n"
    "\n"
    "bring snacks\n"
    f"12/31/23, 9:43{NNBSP}PM - Alex: <Media omitted>\n"
    f"12/31/23, 11:59{NNBSP}PM - Alex: This message was deleted\n"
    f"1/1/24, 12:05{NNBSP}AM - Alex: fixed typo <This message was edited>\n"
    f"1/1/24, 12:06{NNBSP}PM - Alex: IMG-20240101-WA0001.jpg (file attached)\n"
    "the view from the hut\n"
    f"1/1/24, 12:07{NNBSP}PM - Alex: VID-20240101-WA0002.mp4 (file attached)\n"
)

ANDROID_24H = (
    "31/12/2023, 21:41 - Messages and calls are end-to-end encrypted. Tap to learn more.\n"
    "31/12/2023, 21:41 - Sam: Meet at 10\n"
    "01/01/2024, 00:05 - Alex: ok: see you there\n"
    "01/01/2024, 00:06 - Alex left\n"
)

IOS = (
    f"{LRM}[31/12/2023, 21:41:05] Family: {LRM}Messages and calls are end-to-end encrypted. "
    "No one outside of this chat, not even WhatsApp, can read or listen to them.\n"
    f"{LRM}[31/12/2023, 21:41:06] Family: {LRM}You created group “Family”\n"
    "[31/12/2023, 21:41:07] Sam: Dinner at 8?\n"
    "I'll bring dessert\n"
    f"{LRM}[31/12/2023, 21:42:00] Alex: {LRM}image omitted\n"
    f"{LRM}[31/12/2023, 21:42:30] Alex: {LRM}<attached: 00000012-PHOTO-2023-05-02.jpg>\n"
    f"{LRM}[31/12/2023, 21:43:00] Alex: {LRM}video omitted\n"
    f"{LRM}[31/12/2023, 21:44:00] Sam: {LRM}sticker omitted\n"
    f"{LRM}[31/12/2023, 21:45:00] Sam: Report.pdf • 3 pages {LRM}document omitted\n"
    f"{LRM}[31/12/2023, 21:46:00] Alex: {LRM}This message was deleted.\n"
    f"{LRM}[31/12/2023, 21:47:00] Family: {LRM}Sam added Bo\n"
    "[31/12/2023, 21:48:00] Bo: yes 👍\n"
)


def _line(ts: datetime, sender: str, text: str, kind: str) -> ChatLine:
    return ChatLine(ts, sender, text, kind)  # type: ignore[arg-type]


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


# ---- parsing: formats --------------------------------------------------------------------------


def test_android_12h_with_narrow_no_break_space() -> None:
    lines = parse_chat(ANDROID_12H)
    assert [(ln.kind, ln.sender) for ln in lines] == [
        ("system", ""),
        ("system", ""),
        ("system", ""),
        ("message", "Sam"),
        ("media", "Alex"),
        ("media", "Alex"),
        ("message", "Alex"),
        ("message", "Alex"),
        ("media", "Alex"),
    ]
    assert lines[0].text.startswith("Messages and calls are end-to-end encrypted.")
    assert lines[1].text == 'Sam created group "Trip: 2024"'  # the colon does not make a sender
    assert lines[2].text == "Sam added Alex"
    assert lines[3] == _line(
        datetime(2023, 12, 31, 21, 42),
        "Sam",
        "Happy new year!\nGate code is 4321\n\nbring snacks",
        "message",
    )
    assert lines[4] == _line(datetime(2023, 12, 31, 21, 43), "Alex", "<Media omitted>", "media")
    assert lines[5] == _line(
        datetime(2023, 12, 31, 23, 59), "Alex", "This message was deleted", "media"
    )
    assert lines[6] == _line(datetime(2024, 1, 1, 0, 5), "Alex", "fixed typo", "message")  # 12 AM
    # an attachment with a caption is the caption; without one, a media placeholder
    assert lines[7] == _line(
        datetime(2024, 1, 1, 12, 6), "Alex", "the view from the hut", "message"
    )
    assert lines[8].kind == "media" and lines[8].text.startswith("VID-20240101-WA0002.mp4")


def test_android_24h() -> None:
    lines = parse_chat(ANDROID_24H)
    assert lines == [
        _line(
            datetime(2023, 12, 31, 21, 41),
            "",
            "Messages and calls are end-to-end encrypted. Tap to learn more.",
            "system",
        ),
        _line(datetime(2023, 12, 31, 21, 41), "Sam", "Meet at 10", "message"),
        _line(datetime(2024, 1, 1, 0, 5), "Alex", "ok: see you there", "message"),
        _line(datetime(2024, 1, 1, 0, 6), "", "Alex left", "system"),
    ]


def test_android_dotted_dates_and_am_pm_variants() -> None:
    dotted = "31.12.23, 21:41 - Sam: Hallo\n01.01.24, 08:00 - Alex: Frohes neues Jahr\n"
    assert [(ln.timestamp, ln.sender, ln.text) for ln in parse_chat(dotted)] == [
        (datetime(2023, 12, 31, 21, 41), "Sam", "Hallo"),
        (datetime(2024, 1, 1, 8, 0), "Alex", "Frohes neues Jahr"),
    ]
    variants = (
        "1/2/24, 9:05 a.m. - Sam: one\n"
        "1/2/24, 9:05 p.m. - Sam: two\n"
        "1/2/24, 12:30\u00a0pm - Sam: three\n"
        "1/2/24, 12:30 am - Sam: four\n"
        "2024-01-02 07:15 - Sam: five\n"
    )
    assert [ln.timestamp for ln in parse_chat(variants)] == [
        datetime(2024, 1, 2, 9, 5),  # AM/PM and nothing above 12: M/D
        datetime(2024, 1, 2, 21, 5),
        datetime(2024, 1, 2, 12, 30),
        datetime(2024, 1, 2, 0, 30),
        datetime(2024, 1, 2, 7, 15),  # Y-M-D
    ]


def test_ios_brackets_seconds_and_left_to_right_marks() -> None:
    lines = parse_chat(IOS)
    assert lines == [
        _line(
            datetime(2023, 12, 31, 21, 41, 5),
            "",
            "Messages and calls are end-to-end encrypted. No one outside of this chat, not even "
            "WhatsApp, can read or listen to them.",
            "system",
        ),
        _line(datetime(2023, 12, 31, 21, 41, 6), "", "You created group “Family”", "system"),
        _line(
            datetime(2023, 12, 31, 21, 41, 7), "Sam", "Dinner at 8?\nI'll bring dessert", "message"
        ),
        _line(datetime(2023, 12, 31, 21, 42), "Alex", "image omitted", "media"),
        _line(
            datetime(2023, 12, 31, 21, 42, 30),
            "Alex",
            "<attached: 00000012-PHOTO-2023-05-02.jpg>",
            "media",
        ),
        _line(datetime(2023, 12, 31, 21, 43), "Alex", "video omitted", "media"),
        _line(datetime(2023, 12, 31, 21, 44), "Sam", "sticker omitted", "media"),
        _line(
            datetime(2023, 12, 31, 21, 45), "Sam", "Report.pdf • 3 pages document omitted", "media"
        ),
        _line(datetime(2023, 12, 31, 21, 46), "Alex", "This message was deleted.", "media"),
        _line(datetime(2023, 12, 31, 21, 47), "", "Sam added Bo", "system"),
        _line(datetime(2023, 12, 31, 21, 48), "Bo", "yes 👍", "message"),
    ]


def test_ios_12h_with_seconds() -> None:
    text = (
        f"[12/31/23, 9:41:05{NNBSP}PM] Sam: late night\n"
        f"{LRM}[1/1/24, 12:00:01{NNBSP}AM] Alex: midnight\n"
    )
    assert [(ln.timestamp, ln.sender, ln.text, ln.kind) for ln in parse_chat(text)] == [
        (datetime(2023, 12, 31, 21, 41, 5), "Sam", "late night", "message"),
        (datetime(2024, 1, 1, 0, 0, 1), "Alex", "midnight", "message"),
    ]


# ---- day/month order ---------------------------------------------------------------------------


def test_day_month_order_from_a_first_field_above_12() -> None:
    text = "03/04/24, 10:00 - Sam: a\n13/04/24, 10:00 - Sam: b\n"
    assert [ln.timestamp.date() for ln in parse_chat(text)] == [
        datetime(2024, 4, 3).date(),
        datetime(2024, 4, 13).date(),
    ]


def test_month_day_order_from_a_second_field_above_12() -> None:
    text = "03/04/24, 10:00 - Sam: a\n04/13/24, 10:00 - Sam: b\n"
    assert [ln.timestamp.date() for ln in parse_chat(text)] == [
        datetime(2024, 3, 4).date(),
        datetime(2024, 4, 13).date(),
    ]


def test_ambiguous_dates_default_to_day_month_unless_am_pm() -> None:
    assert parse_chat("03/04/24, 10:00 - Sam: a\n")[0].timestamp == datetime(2024, 4, 3, 10, 0)
    assert parse_chat("03/04/24, 10:00 AM - Sam: a\n")[0].timestamp == datetime(2024, 3, 4, 10, 0)
    # 12h but a first field above 12: D/M wins over the AM/PM hint
    text = "03/04/24, 10:00 AM - Sam: a\n25/04/24, 1:00 PM - Sam: b\n"
    assert [ln.timestamp for ln in parse_chat(text)] == [
        datetime(2024, 4, 3, 10, 0),
        datetime(2024, 4, 25, 13, 0),
    ]


def test_two_and_four_digit_years() -> None:
    text = "31/12/99, 10:00 - Sam: a\n31/12/2023, 10:00 - Sam: b\n"
    assert [ln.timestamp.year for ln in parse_chat(text)] == [2099, 2023]


def test_an_impossible_date_continues_the_previous_message() -> None:
    text = "31/12/23, 10:00 - Sam: list\n45/45/23, 10:00 - not a date\n"
    assert parse_chat(text) == [
        _line(datetime(2023, 12, 31, 10, 0), "Sam", "list\n45/45/23, 10:00 - not a date", "message")
    ]


# ---- odd lines ---------------------------------------------------------------------------------


def test_unicode_senders_and_emoji() -> None:
    text = (
        "31/12/2023, 21:41 - Zoë 🌸: Bonne année 🎉🥂\n"
        "31/12/2023, 21:42 - 李小龍: 新年快乐\u2028line separator stays inside\n"
        "31/12/2023, 21:43 - +44 7700 900123: who's this?\n"
        "31/12/2023, 21:44 - ~\u202fMira: hi from a non-contact\n"
    )
    assert [(ln.sender, ln.text) for ln in parse_chat(text)] == [
        ("Zoë 🌸", "Bonne année 🎉🥂"),
        ("李小龍", "新年快乐\u2028line separator stays inside"),
        ("+44 7700 900123", "who's this?"),
        ("Mira", "hi from a non-contact"),
    ]


def test_windows_line_endings_bom_and_preamble() -> None:
    text = "\ufeffsome preamble\r\n31/12/2023, 21:41 - Sam: one\r\ntwo\r\n"
    assert parse_chat(text) == [_line(datetime(2023, 12, 31, 21, 41), "Sam", "one\ntwo", "message")]


def test_missed_calls_and_security_notices_are_system_lookalikes_are_not() -> None:
    text = (
        "31/12/2023, 21:41 - Sam: Missed voice call\n"
        "31/12/2023, 21:42 - Your security code with Sam changed. Tap to learn more.\n"
        "31/12/2023, 21:43 - Sam: missed video call earlier, sorry\n"
        "31/12/2023, 21:44 - Sam: the document omitted a page\n"
    )
    assert [(ln.kind, ln.sender) for ln in parse_chat(text)] == [
        ("system", ""),
        ("system", ""),
        ("message", "Sam"),  # a person's words that start like a notice stay a message
        ("message", "Sam"),  # and so do words that end like a media placeholder
    ]


# ---- looks_like_whatsapp -----------------------------------------------------------------------


def test_looks_like_whatsapp() -> None:
    assert looks_like_whatsapp(ANDROID_12H)
    assert looks_like_whatsapp(ANDROID_24H)
    assert looks_like_whatsapp(IOS)
    assert looks_like_whatsapp("31/12/2023, 21:41 - Sam: the only message\n")
    long_first = "31/12/2023, 21:41 - Sam: " + "\n".join(f"line {i}" for i in range(40))
    assert looks_like_whatsapp(f"{long_first}\n31/12/2023, 21:42 - A: b\n31/12/2023, 21:43 - A: c")


def test_plain_text_is_not_a_chat() -> None:
    notes = (
        "Meeting notes\n\n"
        "On 31/12/2023, 21:41 - we decided things.\n"
        "- buy milk\n- call Sam: about the car\n"
        "2023-12-31 21:41:05,123 - INFO - a log line\n"
    )
    assert not looks_like_whatsapp(notes)
    assert not looks_like_whatsapp("")
    # a note quoting chat lines after its own first line is a note
    assert not looks_like_whatsapp("My notes\n" + ANDROID_24H)
    with pytest.raises(IngestError, match="not look like a WhatsApp chat"):
        extract_whatsapp(Path("notes.txt"), notes.encode())


# ---- Extracted: sections, title, meta ----------------------------------------------------------


def test_extract_txt_sections_title_and_meta() -> None:
    ext = extract_whatsapp(Path("WhatsApp Chat with Sam Lee.txt"), ANDROID_12H.encode("utf-8"))
    assert ext.title == "WhatsApp chat with Sam Lee"
    assert ext.meta == {
        "pack_sections": True,
        "source_type": "whatsapp",
        "participants": ["Sam", "Alex"],
    }
    assert [s.text for s in ext.sections] == [
        "Sam (2023-12-31 21:42): Happy new year!\nGate code is 4321\n\nbring snacks",
        "Alex (2024-01-01 00:05): fixed typo",
        "Alex (2024-01-01 12:06): the view from the hut",
    ]
    assert [s.meta for s in ext.sections] == [
        {"sender": "Sam", "timestamp": "2023-12-31T21:42:00"},
        {"sender": "Alex", "timestamp": "2024-01-01T00:05:00"},
        {"sender": "Alex", "timestamp": "2024-01-01T12:06:00"},
    ]
    assert all(s.heading == "" for s in ext.sections)


def test_titles_from_group_subject_and_participants() -> None:
    # no name in the file name: the group's subject
    assert extract_whatsapp(Path("_chat.txt"), IOS.encode()).title == "WhatsApp chat with Family"
    assert extract_whatsapp(Path("x.txt"), ANDROID_12H.encode()).title == (
        "WhatsApp chat with Trip: 2024"
    )
    # no subject: the participants
    assert extract_whatsapp(Path("chat.txt"), ANDROID_24H.encode()).title == (
        "WhatsApp chat with Sam and Alex"
    )
    people = "".join(f"31/12/2023, 21:4{i} - P{i}: hi\n" for i in range(6))
    assert chat_name(parse_chat(people)) == "P0, P1, P2 and 3 others"
    for name, want in [
        ("WhatsApp Chat - Family (1).zip", "Family"),
        ("WhatsApp-Chat mit Oma.txt", "Oma"),
        ("Chat de WhatsApp con Ana.txt", "Ana"),
    ]:
        assert chat_name([], [name]) == want


def test_a_chat_with_only_media_and_notices_has_no_text() -> None:
    text = "31/12/2023, 21:41 - Sam added Alex\n31/12/2023, 21:42 - Alex: <Media omitted>\n"
    with pytest.raises(IngestError, match="no text messages"):
        extract_whatsapp_text(text)


# ---- the export zip ----------------------------------------------------------------------------


def test_zip_is_registered() -> None:
    assert extractor_for(Path("WhatsApp Chat - Family.zip")) is extract_whatsapp_zip


def test_ios_zip_export_with_media() -> None:
    data = _zip(
        {
            "_chat.txt": IOS.encode("utf-8"),
            "00000012-PHOTO-2023-05-02.jpg": b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8,
        }
    )
    ext = extract_whatsapp_zip(Path("WhatsApp Chat - Family.zip"), data)
    assert ext.title == "WhatsApp chat with Family"
    assert ext.meta["participants"] == ["Sam", "Alex", "Bo"]
    assert [s.meta["sender"] for s in ext.sections] == ["Sam", "Bo"]
    assert ext.sections[0].text == "Sam (2023-12-31 21:41): Dinner at 8?\nI'll bring dessert"
    assert ext.sections[1].meta["timestamp"] == "2023-12-31T21:48:00"


def test_android_zip_export_named_after_the_chat() -> None:
    data = _zip(
        {
            "WhatsApp Chat with Sam.txt": ANDROID_24H.encode("utf-8"),
            "IMG-20231231-WA0001.jpg": b"\xff\xd8\xff\xe0fake",
        }
    )
    ext = extract_whatsapp_zip(Path("export.zip"), data)
    assert ext.title == "WhatsApp chat with Sam"
    assert [s.text for s in ext.sections] == [
        "Sam (2023-12-31 21:41): Meet at 10",
        "Alex (2024-01-01 00:05): ok: see you there",
    ]


def test_zip_with_a_renamed_chat_is_found_by_its_content() -> None:
    data = _zip({"readme.txt": b"hello", "backup/chat-copy.txt": ANDROID_24H.encode()})
    ext = extract_whatsapp_zip(Path("old.zip"), data)
    assert ext.meta["participants"] == ["Sam", "Alex"]


def test_zip_that_is_not_a_whatsapp_export() -> None:
    data = _zip({"notes.txt": b"just some notes\nmore notes\n", "photo.jpg": b"\xff\xd8fake"})
    with pytest.raises(UnsupportedFileError, match=r"^This zip file is not a WhatsApp chat export"):
        extract_whatsapp_zip(Path("stuff.zip"), data)  # skipped by the pipeline, not failed
    garbage = _zip({"_chat.txt": b"not a chat at all\n"})
    with pytest.raises(IngestError, match="not a WhatsApp chat export"):
        extract_whatsapp_zip(Path("stuff.zip"), garbage)


def test_damaged_or_empty_zip() -> None:
    with pytest.raises(IngestError, match="damaged"):
        extract_whatsapp_zip(Path("x.zip"), b"PK\x03\x04 this is not really a zip")
    with pytest.raises(IngestError, match="empty"):
        extract_whatsapp_zip(Path("x.zip"), b"")


def test_zip_bomb_is_refused_before_inflating() -> None:
    buf = io.BytesIO()  # 201 MiB of zeros deflate to under 1 MB; written in streamed chunks
    with (
        zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf,
        zf.open("_chat.txt", "w", force_zip64=True) as fh,
    ):
        chunk = bytes(1 << 20)
        for _ in range(201):
            fh.write(chunk)
    data = buf.getvalue()
    assert len(data) < 2_000_000
    with pytest.raises(IngestError, match="zip bomb"):
        extract_whatsapp_zip(Path("WhatsApp Chat - Bomb.zip"), data)


def test_size_limit_applies_to_the_chat_not_the_media(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(whatsapp, "MAX_MEMBER_BYTES", len(ANDROID_24H.encode()) + 10)
    big_media = _zip({"_chat.txt": ANDROID_24H.encode(), "VID-1.mp4": bytes(100_000)})
    assert len(extract_whatsapp_zip(Path("a.zip"), big_media).sections) == 2
    big_chat = _zip({"_chat.txt": ANDROID_24H.encode() * 2})
    with pytest.raises(IngestError, match="zip bomb"):
        extract_whatsapp_zip(Path("a.zip"), big_chat)
