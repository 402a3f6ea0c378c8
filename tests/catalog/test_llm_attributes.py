"""The optional LLM extractor against a real local OpenAI-compatible HTTP server (no client mocks): valid answers
are used, every kind of invalid answer falls back to the rules with the reason recorded."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from catalog.attributes import RuleExtractor
from catalog.llm_attributes import ChatAttributeExtractor, make_extractor
from catalog.rows import ArticleRow, extract_rows
from catalog.settings import CatalogSettings

TEXT = "Girls dress with floral pattern. The sleeveless summer dress in pink has a bow. Material: 100% cotton."
VALID = {"category": "Dress", "target_group": "girls", "colours": ["Pink"], "materials": [{"name": "cotton",
         "percent": 100}], "pattern": "floral", "motifs": [], "details": ["bow"], "lettering": None, "fit": None,
         "sleeve_length": "sleeveless", "fabric": None}


class ChatServer(ThreadingHTTPServer):
    """Answers POST /v1/chat/completions with `self.content` as the assistant message (or `self.status`)."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), ChatHandler)
        self.content: str = json.dumps(VALID)
        self.status = 200
        self.requests: list[tuple[dict, dict]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class ChatHandler(BaseHTTPRequestHandler):
    server: ChatServer

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((body, dict(self.headers)))
        if self.path != "/v1/chat/completions":
            self.send_error(404)
            return
        answer = {"id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
                  "choices": [{"index": 0, "finish_reason": "stop",
                               "message": {"role": "assistant", "content": self.server.content}}]}
        payload = json.dumps(answer).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture(scope="module")
def server():
    chat = ChatServer()
    thread = threading.Thread(target=chat.serve_forever, daemon=True)
    thread.start()
    yield chat
    chat.shutdown()
    chat.server_close()


@pytest.fixture
def chat(server):
    server.content, server.status = json.dumps(VALID), 200
    server.requests.clear()
    extractor = ChatAttributeExtractor(server.base_url, model="phi-3-mini", api_key="secret", timeout_s=5)
    yield extractor
    extractor.close()


def test_valid_answer_is_used_and_normalised(chat, server):
    extraction = chat.extract(TEXT)
    assert extraction.source == "llm" and extraction.note is None
    assert extraction.attributes.category == "dress" and extraction.attributes.colours == ["pink"]
    body, headers = server.requests[0]
    assert body["model"] == "phi-3-mini" and body["temperature"] == 0
    assert body["response_format"] == {"type": "json_object"}
    assert body["messages"][1] == {"role": "user", "content": TEXT}
    assert headers["Authorization"] == "Bearer secret"


def test_fenced_json_is_accepted(chat, server):
    server.content = "```json\n" + json.dumps(VALID) + "\n```"
    assert chat.extract(TEXT).source == "llm"


@pytest.mark.parametrize("content, status, reason", [
    ("Sure! The dress is pink.", 200, "not JSON"),
    (json.dumps({**VALID, "target_group": "kids"}), 200, "invalid target_group"),
    (json.dumps({**VALID, "colors": ["pink"]}), 200, "invalid colors"),  # a key outside the schema
    (json.dumps([VALID]), 200, "not an object"),
    (json.dumps(VALID), 500, "HTTP 500"),
])
def test_invalid_answer_falls_back_to_rules(chat, server, caplog, content, status, reason):
    server.content, server.status = content, status
    extraction = chat.extract(TEXT)
    assert extraction.source == "rules" and reason in extraction.note
    assert extraction.attributes == RuleExtractor().extract(TEXT).attributes
    assert "using the rule-based extractor" in caplog.text


def test_unreachable_server_falls_back():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    extractor = ChatAttributeExtractor(f"http://127.0.0.1:{port}/v1", timeout_s=2)
    extraction = extractor.extract(TEXT)
    assert extraction.source == "rules" and "ConnectError" in extraction.note


def test_rows_through_the_llm_record_the_source(chat, server):
    results = extract_rows([ArticleRow("A1", TEXT), ArticleRow("A2", "")], chat, max_chars=2000)
    assert (results[0].source, results[1].error) == ("llm", "empty text: the description cell is empty")


def test_settings_choose_the_extractor(server, monkeypatch):
    monkeypatch.delenv("CATALOG_LLM_URL", raising=False)
    assert isinstance(make_extractor(CatalogSettings()), RuleExtractor)
    monkeypatch.setenv("CATALOG_LLM_URL", server.base_url)
    monkeypatch.setenv("CATALOG_LLM_JSON_MODE", "false")
    extractor = make_extractor(CatalogSettings())
    assert isinstance(extractor, ChatAttributeExtractor)
    server.requests.clear()
    assert extractor.extract(TEXT).source == "llm" and "response_format" not in server.requests[0][0]


def test_evaluate_the_chat_extractor(server, monkeypatch, capsys):
    from catalog.evaluate import LABELLED_SET, main

    monkeypatch.setenv("CATALOG_LLM_URL", server.base_url)
    main(["--llm", "--labelled", str(LABELLED_SET)])
    out = capsys.readouterr().out
    # The stub answers the same dress for every article: the table is computed from the LLM's answers.
    assert f"Chat extractor ({server.base_url}), articles_labelled.json" in out
    assert "| category | 0.09 | 0.09 | 6 | 70 | 70 |" in out
