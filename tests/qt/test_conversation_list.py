"""The list of past chats: rows, selection, rename / delete / export, search, hostile titles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QMenu, QStyleOptionViewItem

from tera_desktop.core.conversations import ConversationSummary
from tera_desktop.ui.conversation_list import (
    EMPTY_TEXT,
    ROLE_DATE,
    ROLE_ID,
    ConversationList,
    relative_date,
    title_matches,
)

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
HOSTILE = '<img src=/dev/zero><b>bold</b> <a href="file:///etc">link</a> & "quotes"'


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="microseconds")


def _summary(n: int, title: str, updated: datetime, preview: str = "") -> ConversationSummary:
    conv_id = f"{n:032x}"
    return ConversationSummary(conv_id, title, _iso(updated), _iso(updated), 2, preview)


A = _summary(1, "Who is my accountant?", NOW - timedelta(minutes=5), "Your accountant is Ms Lee.")
B = _summary(2, "Taxes 2024", NOW - timedelta(days=1))
C = _summary(3, "Plumber phone", NOW - timedelta(days=40))
SUMMARIES = [A, B, C]


@pytest.fixture
def make_list(qtbot):  # type: ignore[no-untyped-def]
    def make(summaries=SUMMARIES, current=A.id, answers=(True,)):  # type: ignore[no-untyped-def]
        questions: list[str] = []
        replies = list(answers)

        def confirm(question: str) -> bool:
            questions.append(question)
            return replies.pop(0) if replies else False

        widget = ConversationList(confirm=confirm, now=lambda: NOW)
        widget.questions = questions  # type: ignore[attr-defined]
        qtbot.addWidget(widget)
        widget.resize(280, 400)
        widget.set_conversations(summaries, current)
        widget.show()
        qtbot.waitExposed(widget)
        return widget

    return make


def test_relative_date() -> None:
    now = datetime(2026, 11, 30, 15, 0).astimezone()  # local time, as the rows show it
    assert relative_date(_iso(now.replace(hour=14, minute=2)), now) == "Today 14:02"
    assert relative_date(_iso(now - timedelta(days=1)), now) == "Yesterday"
    assert relative_date(_iso(now.replace(day=12)), now) == "12 Nov"
    assert relative_date(_iso(now.replace(year=2024, month=3, day=2)), now) == "2 Mar 2024"
    assert relative_date("2026-11-30T10:00:00", now).startswith("Today")  # naive = UTC
    assert relative_date("", now) == "" and relative_date("yesterday-ish", now) == ""


def test_title_matches() -> None:
    assert title_matches("Who is my Accountant?", "ACCOUNT who")
    assert not title_matches("Who is my accountant?", "accountant plumber")
    assert title_matches("anything", "   ")
    assert title_matches("Le café de la gare", "CAFE gare")  # accents too, as keyword search


def test_rows_show_titles_dates_and_the_current_chat(make_list, qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = make_list()
    assert widget.conversation_ids() == [A.id, B.id, C.id]
    items = [widget.list.item(r) for r in range(3)]
    assert [i.text() for i in items] == [A.title, B.title, C.title]
    today = relative_date(A.updated_at, NOW)
    assert today.startswith("Today ")
    assert items[0].data(ROLE_DATE) == today
    assert items[1].data(ROLE_DATE) == "Yesterday"
    assert items[2].data(ROLE_DATE) == relative_date(C.updated_at, NOW) == "21 Oct"
    assert items[0].data(Qt.ItemDataRole.AccessibleTextRole) == f"{A.title}, {today}"
    assert widget.list.currentItem() is items[0] and items[0].isSelected()
    assert widget.current_id() == A.id
    assert widget.empty_label.isHidden() and not widget.list.isHidden()

    # refreshing selects what the window says, without emitting a selection
    with qtbot.assertNotEmitted(widget.conversation_selected):
        widget.set_conversations([C, B, A], B.id)
        widget.set_current(C.id)
        widget.set_conversations(SUMMARIES, None)  # a new chat, not saved yet
    assert widget.list.currentItem() is None and widget.current_id() is None
    assert widget.list.selectedItems() == []


def test_clicking_a_row_selects_that_chat(make_list, qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = make_list()
    rect = widget.list.visualItemRect(widget.item_for(B.id))
    with qtbot.waitSignal(widget.conversation_selected) as blocker:
        qtbot.mouseClick(widget.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [B.id]
    assert widget.current_id() == B.id
    with qtbot.assertNotEmitted(widget.conversation_selected):  # the same row again: nothing
        qtbot.mouseClick(widget.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_new_chat_button(make_list, qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = make_list()
    with qtbot.waitSignal(widget.new_chat_requested):
        qtbot.mouseClick(widget.new_button, Qt.MouseButton.LeftButton)


def _editing(widget: ConversationList) -> bool:
    return widget.list.state() == QAbstractItemView.State.EditingState


def _editor(widget: ConversationList) -> QLineEdit:
    """The open title editor (closed ones are deleted later, so they may still be around)."""
    editors = [e for e in widget.list.findChildren(QLineEdit, "chatTitleEdit") if e.isVisible()]
    assert len(editors) == 1
    return editors[0]


def test_rename_in_place(make_list, qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = make_list()
    assert widget.rename(B.id)
    editor = _editor(widget)
    assert editor.text() == B.title and editor.accessibleName() == "Chat title"
    editor.setText("  Taxes\t2025  ")
    with qtbot.waitSignal(widget.rename_requested) as blocker:
        qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert blocker.args == [B.id, "Taxes 2025"]
    assert widget.item_for(B.id).text() == "Taxes 2025"  # shown until the window refreshes

    # F2 on the list renames the current chat; an empty or unchanged title emits nothing
    widget.list.setFocus()
    qtbot.keyClick(widget.list, Qt.Key.Key_F2)
    editor = _editor(widget)
    assert editor.text() == A.title
    assert widget.rename(C.id) is False  # one title at a time
    editor.setText("   ")
    with qtbot.assertNotEmitted(widget.rename_requested):
        qtbot.keyClick(editor, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: not _editing(widget))  # the delegate closes it queued
    assert widget.rename()
    with qtbot.assertNotEmitted(widget.rename_requested):
        qtbot.keyClick(_editor(widget), Qt.Key.Key_Escape)
        qtbot.waitUntil(lambda: not _editing(widget))
    assert widget.item_for(A.id).text() == A.title
    assert widget.rename("f" * 32) is False  # no such row


def test_a_refresh_during_a_rename_waits_for_it(make_list, qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = make_list()
    widget.rename(A.id)
    editor = _editor(widget)
    widget.set_conversations([C, A], C.id)  # e.g. an answer was saved meanwhile
    assert widget.conversation_ids() == [A.id, B.id, C.id]  # not yet: the editor stays
    editor.setText("Accountant")
    with qtbot.waitSignal(widget.rename_requested):
        qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: widget.conversation_ids() == [C.id, A.id])
    assert widget.current_id() == C.id


def test_delete_asks_first(make_list, qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = make_list(answers=[False, True, True])
    with qtbot.assertNotEmitted(widget.delete_requested):
        assert widget.delete(B.id) is False  # the user said no
    assert widget.questions == ["Delete the chat “Taxes 2024”? This cannot be undone."]
    with qtbot.waitSignal(widget.delete_requested) as blocker:
        assert widget.delete(B.id) is True
    assert blocker.args == [B.id]
    widget.list.setFocus()
    with qtbot.waitSignal(widget.delete_requested) as blocker:  # the Delete key: current chat
        qtbot.keyClick(widget.list, Qt.Key.Key_Delete)
    assert blocker.args == [A.id] and len(widget.questions) == 3


def test_context_menu_actions(make_list, qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = make_list()
    menu = widget.context_menu(C.id)
    actions = {a.text().split("\t")[0]: a for a in menu.actions()}
    assert set(actions) == {"Rename…", "Export as Markdown…", "Delete…"}
    with qtbot.waitSignal(widget.export_requested) as blocker:
        actions["Export as Markdown…"].trigger()
    assert blocker.args == [C.id]
    with qtbot.waitSignal(widget.delete_requested) as blocker:
        actions["Delete…"].trigger()
    assert blocker.args == [C.id]
    actions["Rename…"].trigger()
    assert _editor(widget).text() == C.title
    qtbot.keyClick(_editor(widget), Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not _editing(widget))
    assert widget.current_id() == A.id  # acting on another row does not switch chats
    # the "⋯" button's menu acts on the current chat; no chat: its actions are off
    with qtbot.waitSignal(widget.export_requested) as blocker:
        next(a for a in widget.context_menu().actions() if "Export" in a.text()).trigger()
    assert blocker.args == [A.id]
    widget.set_conversations(SUMMARIES, None)
    assert not widget.more_button.isEnabled()
    assert not any(a.isEnabled() for a in widget.context_menu().actions())
    assert widget.export() is False and widget.delete() is False


def test_search_filters_titles_at_once_then_asks_the_window(make_list, qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = make_list()
    with qtbot.assertNotEmitted(widget.search_changed, wait=0):
        widget.set_filter("TAX")
    assert widget.conversation_ids(visible_only=True) == [B.id]  # before any search result
    with qtbot.waitSignal(widget.search_changed, timeout=5000) as blocker:
        pass
    assert blocker.args == ["TAX"]
    # the window's full-text results are shown as given (A matched in a message)
    widget.set_conversations([B, A], A.id)
    assert widget.conversation_ids(visible_only=True) == [B.id, A.id]
    assert widget.list.currentItem().data(ROLE_ID) == A.id
    # typing on filters the rows shown by title until the next results
    widget.set_filter("taxes 2024")
    assert widget.conversation_ids(visible_only=True) == [B.id]
    # nothing matches: the empty state says so
    widget.set_filter("zzz")
    assert widget.list.isHidden() and not widget.empty_label.isHidden()
    assert widget.empty_label.text() == "No chats match “zzz”."
    # clearing the box asks for the full list at once
    with qtbot.waitSignal(widget.search_changed, timeout=1000) as blocker:
        widget.search_edit.clear()
    assert blocker.args == [""]
    assert widget.conversation_ids(visible_only=True) == [B.id, A.id]


def test_empty_state(make_list) -> None:  # type: ignore[no-untyped-def]
    widget = make_list(summaries=[], current=None)
    assert not widget.empty_label.isHidden() and widget.list.isHidden()
    assert widget.empty_label.text() == EMPTY_TEXT
    assert widget.empty_label.textFormat() == Qt.TextFormat.PlainText
    widget.set_conversations([A], None)
    assert widget.empty_label.isHidden() and not widget.list.isHidden()


def test_every_control_has_an_accessible_name(make_list) -> None:  # type: ignore[no-untyped-def]
    widget = make_list()
    for control in (
        widget.search_edit,
        widget.new_button,
        widget.more_button,
        widget.list,
        widget.empty_label,
    ):
        assert control.accessibleName(), control.objectName()
    assert widget.search_edit.placeholderText() == "Search chats"
    assert widget.new_button.text() == "New chat"


def test_hostile_titles_are_shown_as_literal_text(make_list, qtbot) -> None:  # type: ignore[no-untyped-def]
    evil = _summary(9, HOSTILE, NOW, preview="<img src=/dev/zero> preview")
    untitled = _summary(10, "", NOW)
    widget = make_list(summaries=[evil, untitled], current=evil.id, answers=[False])
    item = widget.item_for(evil.id)
    assert item.text() == HOSTILE
    tip = item.toolTip()
    assert "<img" not in tip and "<b>" not in tip and "<a " not in tip
    doc = QTextDocument()
    doc.setHtml(tip)
    assert doc.toPlainText() == HOSTILE  # the tooltip shows exactly the title
    assert widget.item_for(untitled.id).text() == "Untitled chat"
    widget.grab()  # painting the rows reads no file and does not hang
    widget.delete(evil.id)
    assert widget.questions == [f"Delete the chat “{HOSTILE}”? This cannot be undone."]
    widget.set_filter("<img")
    assert widget.conversation_ids(visible_only=True) == [evil.id]
    widget.set_filter("<nothing>")
    assert widget.empty_label.textFormat() == Qt.TextFormat.PlainText
    assert widget.empty_label.text() == "No chats match “<nothing>”."


def test_long_titles_are_elided_with_the_full_title_in_the_tooltip(make_list) -> None:  # type: ignore[no-untyped-def]
    long_title = "A very long question about " + "the camper van parking " * 10
    long = _summary(11, long_title.strip(), NOW)
    widget = make_list(summaries=[long], current=None)
    index = widget.list.model().index(0, 0)
    option = QStyleOptionViewItem()
    option.initFrom(widget.list)
    option.rect = widget.list.visualRect(index)
    option.rect.setWidth(150)
    shown = widget.delegate.title_text(option, index)
    assert shown.endswith("…") and len(shown) < len(long_title)
    doc = QTextDocument()
    doc.setHtml(widget.item_for(long.id).toolTip())
    assert doc.toPlainText() == long_title.strip()


def _open_menus(widget: ConversationList) -> list[QMenu]:
    return [m for m in widget.findChildren(QMenu, "chatMenu") if m.isVisible()]


# a popup menu on the offscreen platform: it cannot raise the menu or grab the keyboard
@pytest.mark.qt_log_ignore(r"This plugin does not support (raise|grabbing the keyboard)")
def test_context_menu_opens_on_a_row(make_list, qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = make_list()
    rect = widget.list.visualItemRect(widget.item_for(C.id))
    widget.list.customContextMenuRequested.emit(QPoint(5, widget.list.viewport().height() - 2))
    assert _open_menus(widget) == []  # below the rows: no menu
    widget.list.customContextMenuRequested.emit(rect.center())
    (menu,) = _open_menus(widget)
    with qtbot.waitSignal(widget.export_requested) as blocker:
        next(a for a in menu.actions() if "Export" in a.text()).trigger()
    assert blocker.args == [C.id]
    menu.close()
    qtbot.mouseClick(widget.more_button, Qt.MouseButton.LeftButton)
    (menu,) = _open_menus(widget)
    assert all(a.isEnabled() for a in menu.actions())
    menu.close()


def test_delete_survives_a_refresh_while_asking(qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = ConversationList(confirm=lambda _q: (widget.set_conversations([C], C.id), True)[1])
    qtbot.addWidget(widget)
    widget.set_conversations(SUMMARIES, A.id)
    with qtbot.waitSignal(widget.delete_requested) as blocker:
        widget.delete(B.id)
    assert blocker.args == [B.id]


def test_the_default_confirm_is_a_plain_text_yes_no_question(qtbot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tera_desktop.ui import conversation_list

    asked: list[tuple[object, str, str]] = []
    monkeypatch.setattr(conversation_list, "ask_yes_no", lambda *args: asked.append(args) or False)
    widget = ConversationList()
    qtbot.addWidget(widget)
    widget.set_conversations([A], A.id)
    with qtbot.assertNotEmitted(widget.delete_requested):
        assert widget.delete() is False
    assert asked == [
        (widget, "Delete chat", f"Delete the chat “{A.title}”? This cannot be undone.")
    ]
