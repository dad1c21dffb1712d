"""The chat pane's style sheet and colours, derived from the palette so that light and dark
themes both work."""

from __future__ import annotations

from string import Template

from PySide6.QtGui import QColor, QPalette

_STYLE = Template("""
QWidget#chatPage { background: $page; }
QFrame#message { border-radius: 10px; }
QFrame#message[role="user"] { background: $user; border: 1px solid $user_border; }
QFrame#message[role="assistant"] { background: $assistant; border: 1px solid $border; }
QFrame#message[role="notice"] { background: transparent; border: none; }
QTextBrowser#messageText { background: transparent; border: none; }
QLabel#roleLabel { color: $muted; font-weight: 600; }
QLabel#stoppedMarker { color: $muted; font-style: italic; }
QLabel#noMemoryNote { color: $muted; font-style: italic; }
QLabel#evidence { color: $text; }
QLabel#readingProgress { color: $muted; font-style: italic; }
QLabel#checkNote { color: $muted; font-style: italic; }
QLabel#messageError { color: $error; }
QLabel#emptyHint { color: $muted; }
QToolButton#copyButton {
    border: none; color: $muted; padding: 1px 4px; background: transparent;
}
QToolButton#copyButton:hover { color: $text; }
QToolButton#sourceChip {
    border: 1px solid $border; border-radius: 10px; padding: 2px 9px; background: $chip;
}
QToolButton#sourceChip:hover { background: $chip_hover; }
QToolButton#sourceChip:checked { background: $chip_checked; border-color: $highlight; }
""")


def _mix(a: QColor, b: QColor, amount: float) -> QColor:
    """``a`` moved ``amount`` (0..1) of the way towards ``b``."""
    return QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * amount,
        a.greenF() + (b.greenF() - a.greenF()) * amount,
        a.blueF() + (b.blueF() - a.blueF()) * amount,
    )


def _is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightnessF() < 0.5


def assistant_background(palette: QPalette) -> QColor:
    """The background of an answer's bubble."""
    base = palette.color(QPalette.ColorRole.Base)
    return _mix(base, palette.color(QPalette.ColorRole.Window), 0.6)


def code_background(palette: QPalette) -> QColor:
    """The background of code in an answer: a shade off the bubble, lighter or darker by theme."""
    return _mix(assistant_background(palette), palette.color(QPalette.ColorRole.Text), 0.09)


def chat_style_sheet(palette: QPalette) -> str:
    """The chat pane's style, derived from ``palette`` so light and dark themes both work."""
    base = palette.color(QPalette.ColorRole.Base)
    text = palette.color(QPalette.ColorRole.Text)
    highlight = palette.color(QPalette.ColorRole.Highlight)
    muted = _mix(text, base, 0.45)
    border = _mix(base, text, 0.16)
    error = QColor("#ff8a80") if _is_dark(palette) else QColor("#b3261e")
    colors = {
        "page": base.name(),
        "user": _mix(base, highlight, 0.16).name(),
        "user_border": _mix(base, highlight, 0.35).name(),
        "assistant": assistant_background(palette).name(),
        "border": border.name(),
        "chip": _mix(base, text, 0.05).name(),
        "chip_hover": _mix(base, highlight, 0.12).name(),
        "chip_checked": _mix(base, highlight, 0.25).name(),
        "highlight": highlight.name(),
        "muted": muted.name(),
        "text": text.name(),
        "error": error.name(),
    }
    return _STYLE.substitute(colors)
