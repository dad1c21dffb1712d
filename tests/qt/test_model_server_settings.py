"""The Settings dialog's "Model server" section: edit, Test connection (a worker against a real
HTTP server on 127.0.0.1), and the values it returns."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt
from stub_openai_server import serve_stub

from tera_desktop.core import secrets
from tera_desktop.core.paths import Paths
from tera_desktop.core.settings import Settings
from tera_desktop.ui.settings_dialog import SettingsDialog

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture(autouse=True)
def _file_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(secrets.ENV_BACKEND, "file")


def _dialog(qtbot, paths: Paths, settings: Settings) -> SettingsDialog:  # type: ignore[no-untyped-def]
    dialog = SettingsDialog(paths, settings)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _test_connection(qtbot, dialog: SettingsDialog) -> str:  # type: ignore[no-untyped-def]
    qtbot.mouseClick(dialog.test_button, LEFT)
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=30_000)
    return dialog.test_label.text()


def test_server_fields_round_trip(qtbot, paths: Paths) -> None:  # type: ignore[no-untyped-def]
    original = Settings(llm_url="http://10.0.0.5:8080", llm_api_key="k", llm_server_model="m")
    dialog = _dialog(qtbot, paths, original)
    assert dialog.server_url_edit.text() == "http://10.0.0.5:8080"
    assert dialog.server_key_edit.echoMode() == dialog.server_key_edit.EchoMode.Password
    assert dialog.server_key_edit.text() == "k"
    assert dialog.server_model_combo.currentText() == "m"
    assert "secrets.json" in dialog.server_key_edit.toolTip()
    assert dialog.settings() == original

    dialog.server_url_edit.setText(" http://localhost:11434/v1 ")
    dialog.server_key_edit.setText("")
    dialog.server_model_combo.setEditText("llama3")
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(dialog.button_box.button(dialog.button_box.StandardButton.Save), LEFT)
    assert dialog.settings() == replace(
        original, llm_url="http://localhost:11434/v1", llm_api_key="", llm_server_model="llama3"
    )


def test_an_invalid_server_address_keeps_the_dialog_open(qtbot, paths: Paths) -> None:  # type: ignore[no-untyped-def]
    dialog = _dialog(qtbot, paths, Settings())
    dialog.server_url_edit.setText("localhost:8080")
    qtbot.mouseClick(dialog.button_box.button(dialog.button_box.StandardButton.Save), LEFT)
    assert dialog.isVisible() and "llm_url must look like http://host:8080" in (
        dialog.error_label.text()
    )


def test_test_connection_lists_the_models(qtbot, paths: Paths) -> None:  # type: ignore[no-untyped-def]
    models = [{"id": "llama3", "context_length": 8192}, {"id": "qwen2.5"}]
    with serve_stub(models=models, api_key="k") as stub:
        dialog = _dialog(qtbot, paths, Settings())
        dialog.server_url_edit.setText(stub.url)
        dialog.server_key_edit.setText("k")
        dialog.server_model_combo.setEditText("llama3")
        text = _test_connection(qtbot, dialog)
        assert (
            text == "Connected: 2 models on the server; llama3 will answer, context 8,192 tokens."
        )
        combo = dialog.server_model_combo
        assert [combo.itemText(i) for i in range(combo.count())] == ["llama3", "qwen2.5"]
        assert combo.currentText() == "llama3"
        assert stub.requests[0].headers["Authorization"] == "Bearer k"


def test_test_connection_shows_what_went_wrong(qtbot, paths: Paths) -> None:  # type: ignore[no-untyped-def]
    with serve_stub(api_key="k") as stub:
        dialog = _dialog(qtbot, paths, Settings())
        dialog.server_url_edit.setText(stub.url)
        dialog.server_key_edit.setText("wrong")
        assert "refused the API key" in _test_connection(qtbot, dialog)
        dialog.server_key_edit.setText("k")
        assert _test_connection(qtbot, dialog).startswith("Connected: 1 model")
        assert dialog.server_model_combo.currentText() == "stub-model"


def test_test_connection_needs_an_address(qtbot, paths: Paths) -> None:  # type: ignore[no-untyped-def]
    dialog = _dialog(qtbot, paths, Settings())
    qtbot.mouseClick(dialog.test_button, LEFT)
    assert "Enter the server's address first" in dialog.test_label.text()


# ---- the status bar says who answers ----------------------------------------------------------
def test_status_bar_names_the_model_server(make_window, tiny_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    with serve_stub() as stub:
        window = make_window(replace(tiny_settings, llm_url=stub.url))
        assert window.llm_state == "ready"
        assert window.model_label.text() == (
            f"Answers: stub-model on the model server 127.0.0.1:{stub.port}"
        )


def test_status_bar_says_when_the_server_is_not_available(
    make_window, tiny_settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    with serve_stub() as stub:
        url = stub.url  # stopped on leaving: nothing listens there any more
    window = make_window(replace(tiny_settings, llm_url=url))
    assert window.llm_state == "failed"
    assert window.model_label.text() == f"Model server {url[len('http://') :]}: not available"
    assert "connection refused" in window.model_label.toolTip()


def test_local_model_status_is_unchanged(make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    assert window.model_label.text() == "Language model: tiny"
