"""A loopback fake of an OpenAI-compatible chat-completions server, for tests.

    with ChatServer() as server:
        backend = EndpointBackend(base_url=server.url, model="m")
        ...
        body, headers = server.requests[0]

The default responder answers ``POST /v1/chat/completions`` with ``paraphrase`` of the last user
message; set ``server.responder`` to script statuses, headers and bodies (``completion`` builds a
normal answer). Any other path gets 404; a body that is not JSON gets 400 (its raw text is
recorded in place of the parsed body)."""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

Responder = Callable[[dict], tuple[int, dict[str, str], "bytes | dict"]]


def paraphrase(prompt: str) -> str:
    """The default responder's deterministic rewrite of a prompt (the seed is ignored):

    1. the source is the text after the prompt's last blank line (the whole prompt if it has
       none), stripped;
    2. every whole word ``shows`` becomes ``demonstrates``;
    3. if that changed nothing, the first two words (split on whitespace, joined by single
       spaces) are swapped;
    4. if the result still equals the source (one word, or two equal words), it is prefixed
       with ``"In other words, "``.

    So the answer always differs from its source: ``"The scan shows a nodule."`` becomes
    ``"The scan demonstrates a nodule."``, ``"Mild effusion noted."`` becomes
    ``"effusion Mild noted."``."""
    source = prompt.rsplit("\n\n", 1)[-1].strip()
    out = re.sub(r"\bshows\b", "demonstrates", source)
    if out == source:
        words = source.split()
        if len(words) >= 2:
            words[0], words[1] = words[1], words[0]
        out = " ".join(words)
    if out == source:
        out = "In other words, " + source
    return out


def completion(content: Any, model: str = "fake-model") -> dict:
    """A chat-completions response body whose ``choices[0].message.content`` is ``content``."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def last_user_message(body: dict) -> str:
    """The content of the last ``user`` message of a request body ("" if none)."""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return str(message.get("content", ""))
    return ""


def echo_paraphrase(body: dict) -> tuple[int, dict[str, str], bytes | dict]:
    """The default responder: 200 with ``paraphrase`` of the last user message."""
    return 200, {}, completion(paraphrase(last_user_message(body)), body.get("model", ""))


class Headers(dict):
    """Request headers: keys stored lower-case, looked up case-insensitively."""

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


class ChatServer:
    """A fake chat-completions server on ``127.0.0.1`` (a free port), serving each request in
    its own thread.

    - ``url``: ``http://127.0.0.1:<port>/v1`` (the base URL a backend takes);
    - ``requests``: (parsed JSON body, ``Headers``) per request received, in arrival order;
      ``paths`` the request paths alongside (absolute URLs when sent through it as a proxy);
    - ``responder(body) -> (status, extra headers, body)``: a dict body is sent as JSON; it may
      raise (answered 500) or sleep; default ``echo_paraphrase``;
    - ``delay``: seconds to wait before responding, a number or ``callable(body)``;
    - ``max_in_flight``: the most requests seen being handled at once."""

    def __init__(self, responder: Responder | None = None, delay: Any = 0.0) -> None:
        self.responder: Responder = responder or echo_paraphrase
        self.delay = delay
        self.requests: list[tuple[Any, Headers]] = []
        self.paths: list[str] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread: threading.Thread | None = None

    @property
    def count(self) -> int:
        """How many requests arrived."""
        with self._lock:
            return len(self.requests)

    def bodies(self) -> list[Any]:
        """The parsed bodies received so far."""
        with self._lock:
            return [body for body, _ in self.requests]

    def start(self) -> ChatServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- request handling -------------------------------------------------------------------
    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                server._serve(self)

            def do_GET(self) -> None:
                self._reply_plain(404)

            def _reply_plain(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler

    def _serve(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            status, extra, data = self._answer(handler)
        except OSError:
            return  # the client gave up (e.g. its timeout): nothing to answer
        finally:
            # Lowered before a byte of the response goes out: a client holding its answer may
            # send its next request at once, and must not find this one still counted.
            with self._lock:
                self._in_flight -= 1
        try:
            handler.send_response(status)
            if not any(k.lower() == "content-type" for k in extra):
                handler.send_header("Content-Type", "application/json")
            for name, value in extra.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass  # the client gave up (e.g. its timeout): nothing to answer

    def _answer(
        self, handler: http.server.BaseHTTPRequestHandler
    ) -> tuple[int, dict[str, str], bytes]:
        """Read and record one request, wait ``delay``, and compute (status, headers, body)."""
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        headers = Headers((k.lower(), v) for k, v in handler.headers.items())
        try:
            body: Any = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = raw.decode("utf-8", "replace")
        with self._lock:
            self.requests.append((body, headers))
            self.paths.append(handler.path)
        delay = self.delay(body) if callable(self.delay) else self.delay
        if delay:
            time.sleep(delay)
        path = urllib.parse.urlsplit(handler.path).path
        if path != "/v1/chat/completions":
            status, extra, out = 404, {}, {"error": {"message": f"no route {path}"}}
        elif not isinstance(body, dict):
            status, extra, out = 400, {}, {"error": {"message": "body is not JSON"}}
        else:
            try:
                status, extra, out = self.responder(body)
            except Exception as exc:
                status, extra, out = 500, {}, {"error": {"message": repr(exc)}}
        data = json.dumps(out).encode("utf-8") if isinstance(out, dict) else bytes(out)
        return status, extra, data
