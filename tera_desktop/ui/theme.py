"""Light and dark looks: follow the system's colour scheme, or the user's choice (View → Theme).

Qt's own palette follows the system only where a platform theme reports it (GNOME, KDE, macOS,
Windows); on a bare X server it stays light. So Tera builds both palettes itself on the Fusion
style, picks one from the user's choice (``"system"``, ``"light"``, ``"dark"``) and, for
``"system"``, re-picks when ``QStyleHints.colorSchemeChanged`` says the system switched. Widgets
that derive colours from the palette (the chat's bubbles, the lists' muted lines) react to the
``ApplicationPaletteChange`` event as they already do.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from tera_desktop.core.settings import THEMES

THEME_LABELS = {"system": "Follow the System", "light": "Light", "dark": "Dark"}

# Calm neutrals with one accent; text/background contrast above 7:1 in both.
_LIGHT = {
    "window": "#f5f6f8",
    "base": "#ffffff",
    "alternate": "#eef0f3",
    "text": "#1d2127",
    "muted": "#5d6673",
    "button": "#eceef2",
    "highlight": "#2f6fdb",
    "highlighted_text": "#ffffff",
    "link": "#1f5fc9",
    "tooltip_base": "#ffffff",
    "mid": "#c9ced6",
}
_DARK = {
    "window": "#1e2126",
    "base": "#16181c",
    "alternate": "#23272d",
    "text": "#e6e8eb",
    "muted": "#9aa3ae",
    "button": "#2a2e35",
    "highlight": "#4b8bf5",
    "highlighted_text": "#ffffff",
    "link": "#7fb0ff",
    "tooltip_base": "#2a2e35",
    "mid": "#3a4049",
}


def palette_for(dark: bool) -> QPalette:
    c = {k: QColor(v) for k, v in (_DARK if dark else _LIGHT).items()}
    p = QPalette()
    role = QPalette.ColorRole
    for r, key in (
        (role.Window, "window"),
        (role.WindowText, "text"),
        (role.Base, "base"),
        (role.AlternateBase, "alternate"),
        (role.Text, "text"),
        (role.Button, "button"),
        (role.ButtonText, "text"),
        (role.BrightText, "highlighted_text"),
        (role.Highlight, "highlight"),
        (role.HighlightedText, "highlighted_text"),
        (role.Link, "link"),
        (role.LinkVisited, "link"),
        (role.ToolTipBase, "tooltip_base"),
        (role.ToolTipText, "text"),
        (role.PlaceholderText, "muted"),
        (role.Mid, "mid"),
        (role.Midlight, "alternate"),
        (role.Dark, "mid"),
        (role.Light, "base"),
        (role.Shadow, "mid"),
    ):
        p.setColor(r, c[key])
    disabled = QColor(c["muted"])
    disabled.setAlphaF(0.75)
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, r, disabled)
    p.setColor(QPalette.ColorGroup.Disabled, role.Highlight, c["mid"])
    return p


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return hints is not None and hints.colorScheme() == Qt.ColorScheme.Dark


def is_dark(choice: str) -> bool:
    """Whether ``choice`` ("system", "light", "dark") means the dark look right now."""
    if choice == "dark":
        return True
    if choice == "light":
        return False
    return system_is_dark()


def current_is_dark() -> bool:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return False
    return app.palette().color(QPalette.ColorRole.Window).lightnessF() < 0.5


class ThemeManager(QObject):
    """Applies a theme to the application and follows the system while the choice is "system"."""

    def __init__(self, app: QApplication, choice: str = "system") -> None:
        super().__init__(app)
        self._app = app
        self.choice = choice if choice in THEMES else "system"
        self._dark: bool | None = None
        app.setStyle("Fusion")  # the same look and the same palette roles on every desktop
        font = QFont(app.font())
        if 0 < font.pointSizeF() < 10:  # readable body text, never smaller than 10 pt
            font.setPointSizeF(10)
            app.setFont(font)
        hints = QGuiApplication.styleHints()
        if hints is not None:
            hints.colorSchemeChanged.connect(self._on_system_scheme_changed)
        self.apply(self.choice)

    @property
    def dark(self) -> bool:
        return bool(self._dark)

    def apply(self, choice: str) -> None:
        self.choice = choice if choice in THEMES else "system"
        dark = is_dark(self.choice)
        if dark == self._dark:
            return
        self._dark = dark
        self._app.setPalette(palette_for(dark))

    @Slot(Qt.ColorScheme)
    def _on_system_scheme_changed(self, _scheme: Qt.ColorScheme) -> None:
        if self.choice == "system":
            self.apply("system")


def theme_manager() -> ThemeManager:
    """The application's theme manager (made on first use)."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        raise RuntimeError("no QApplication")
    found = app.findChild(ThemeManager)
    return found if isinstance(found, ThemeManager) else ThemeManager(app)
