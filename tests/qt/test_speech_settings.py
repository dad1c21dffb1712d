"""The Settings dialog offers the speech-to-text model and the language of recordings."""

from __future__ import annotations

from dataclasses import replace

from tera_desktop.core.paths import Paths
from tera_desktop.core.settings import Settings
from tera_desktop.ui.settings_dialog import SettingsDialog


def test_speech_model_and_language_round_trip(qtbot, paths: Paths, tiny_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    dialog = SettingsDialog(paths, tiny_settings)
    qtbot.addWidget(dialog)
    names = [dialog.speech_combo.itemText(i) for i in range(dialog.speech_combo.count())]
    assert {"whisper-base", "whisper-small"} <= set(names)
    assert dialog.speech_language_combo.currentText() == "Detect automatically"
    assert dialog.settings().speech_language == ""
    dialog.speech_combo.setCurrentText("whisper-small")
    dialog.speech_language_combo.setCurrentIndex(dialog.speech_language_combo.findData("de"))
    got = dialog.settings()
    assert (got.speech_model, got.speech_language) == ("whisper-small", "de")


def test_a_typed_language_code_is_kept(qtbot, paths: Paths, tiny_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    dialog = SettingsDialog(paths, replace(tiny_settings, speech_language="sv"))
    qtbot.addWidget(dialog)
    assert dialog.settings().speech_language == "sv"
