"""What Tera prints is safe (issue 26.4, 26.6): control characters from memory never reach the
terminal (JSON stays exact), and no key or password appears in output, errors or logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tera_desktop.cli import main, safe
from tera_desktop.core import secrets as secrets_module
from tera_desktop.core.errors import ServerError
from tera_desktop.core.openai_generator import api_base
from tera_desktop.core.paths import get_paths
from tera_desktop.core.providers import server_address
from tera_desktop.core.secrets import MASK, known_secret, mask_secrets, mask_url
from tera_desktop.core.settings import Settings

HOSTILE = "x \033]52;c;ZWNobyBwd25lZA==\007 \033[2J\x9b31m gate code 4512"
KEY = "sk-live-SECRETKEY0123456789"


@pytest.fixture
def tiny_env(monkeypatch: pytest.MonkeyPatch, tiny_gguf: Path, tiny_embedding: Path) -> None:
    monkeypatch.setenv("TERA_EMBEDDING_MODEL", str(tiny_embedding))
    monkeypatch.setenv("TERA_LLM_MODEL", str(tiny_gguf))
    monkeypatch.setenv("TERA_LLM_CONTEXT", "512")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _clean(text: str) -> bool:
    return not any((ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0 for c in text)


# ---- terminal escapes ------------------------------------------------------------------------
def test_safe_replaces_controls_and_keeps_text() -> None:
    assert safe("a\033]0;title\007b") == "a\ufffd]0;title\ufffdb"
    assert safe("line one\nline\ttwo") == "line one\nline\ttwo"
    assert safe("line one\nline\ttwo", one_line=True) == "line one line two"
    assert safe("\x9b\x7f\r\u202e") == "\ufffd" * 4
    assert safe("日本語 é") == "日本語 é"


def test_list_search_ask_chats_print_no_escape_from_memory(
    capsys: pytest.CaptureFixture[str], tiny_env: None, tmp_path: Path
) -> None:
    assert run(capsys, "remember", HOSTILE)[0] == 0
    doc = tmp_path / "evil\033]8;;x\007name.txt"
    doc.write_text("the gate manual \033]0;pwned\007 says 4512\n", encoding="utf-8")
    code, out, err = run(capsys, "upload", str(doc))
    assert code == 0 and _clean(out + err) and "(1 chunk)" in out
    for args in (
        ("list",),
        ("search", "gate code 4512", "--mode", "keyword"),
        ("ask", "--chat", "\033]0;t\007chat", "gate code?"),
        ("chats",),
    ):
        code, out, err = run(capsys, *args)
        assert code == 0, (args, err)
        assert "\033" not in out + err and "\007" not in out + err, args
        assert _clean(out + err), args
    assert "\ufffd]52;c;ZWNobyBwd25lZA==\ufffd" in run(capsys, "list")[1]
    assert "]52;c;" in run(capsys, "search", "gate code 4512", "--mode", "keyword")[1]


def test_json_output_stays_exact(capsys: pytest.CaptureFixture[str], tiny_env: None) -> None:
    run(capsys, "remember", HOSTILE)
    code, out, _ = run(capsys, "list", "--json")
    assert code == 0 and "\033" not in out  # json.dumps escapes it…
    assert json.loads(out)["facts"][0]["text"] == HOSTILE  # …and it reads back exactly
    code, out, _ = run(capsys, "search", "gate code 4512", "--mode", "keyword", "--json")
    assert json.loads(out)[0]["text"] == HOSTILE


# ---- secrets ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("http://user:S3CRETPASS@10.0.0.5:8080/v1", "S3CRETPASS"),
        ("got 'https://bob:p@ss:w@rd@host/v1'", "p@ss:w@rd"),
        ("Authorization: Bearer abcdef123456", "abcdef123456"),
        ("url?api_key=abcdef123456&x=1", "abcdef123456"),
        ('{"api-key": "abcdef123456"}', "abcdef123456"),
        (f"key {KEY} used", KEY),
    ],
)
def test_mask_secrets_hides_keys_and_url_credentials(text: str, hidden: str) -> None:
    masked = mask_secrets(text)
    assert hidden not in masked and MASK in masked


def test_mask_keeps_ordinary_text_and_hides_known_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    # keys other tests made known ("wrong", as a bad key) are theirs: start from none
    monkeypatch.setattr(secrets_module, "_known", set())
    plain = "the model server at 10.0.0.5:8080 sent 400 tokens; mail bob@example.org"
    assert mask_secrets(plain) == plain
    assert mask_url("http://10.0.0.5:8080/v1") == "http://10.0.0.5:8080/v1"
    known_secret("plainkey-778899")
    assert mask_secrets("it said plainkey-778899 is wrong") == "it said *** is wrong"


def test_invalid_address_error_and_status_text_hide_the_key() -> None:
    with pytest.raises(ServerError) as info:
        api_base(f"ftp://user:{KEY}@host")
    assert KEY not in str(info.value) and "ftp://***@host" in str(info.value)
    settings = Settings(llm_url=f"http://user:{KEY}@10.0.0.5:8080")
    assert server_address(settings) == "10.0.0.5:8080"


def test_doctor_info_and_errors_never_print_the_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERA_LLM_URL", f"http://user:{KEY}@127.0.0.1:9")
    monkeypatch.setenv("TERA_LLM_API_KEY", "another-key-4455")
    monkeypatch.setenv("TERA_QDRANT_URL", f"https://admin:{KEY}@qdrant.example.org:6333")
    code, out, err = run(capsys, "info")
    assert KEY not in out + err and "***@qdrant.example.org" in out
    _, out, err = run(capsys, "doctor")
    assert KEY not in out + err and "another-key-4455" not in out + err
    assert "127.0.0.1:9" in out  # the address is still named
    _, out, err = run(capsys, "doctor", "--json")
    assert KEY not in out + err and json.loads(out)["checks"]
    monkeypatch.setenv("TERA_LLM_URL", f"ftp://user:{KEY}@host")  # an invalid address
    code, out, err = run(capsys, "list")
    assert code != 0 and KEY not in out + err and "llm_url" in err


def test_log_lines_hide_keys(tmp_path: Path) -> None:
    from tera_desktop.core.logs import setup_logging

    paths = get_paths(tmp_path / "home").ensure()
    logger = setup_logging(paths)
    logging.getLogger("tera.test").warning("connecting to %s", f"http://u:{KEY}@h:1/v1")
    try:
        raise ValueError(f"Bearer {KEY}")
    except ValueError:
        logger.exception("failed")
    for handler in logger.handlers:
        handler.flush()
    text = paths.log_file.read_text(encoding="utf-8")
    assert "connecting to http://***@h:1/v1" in text and KEY not in text
