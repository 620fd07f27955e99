"""The ``openai`` backend: an OpenAI-compatible chat-completions endpoint (Ollama, vLLM,
llama.cpp server, hosted services), spoken with the standard library only.

Privacy first: an endpoint must be this machine (loopback) unless the recipe says
``allow_remote: true``; loopback traffic never goes through environment proxies; redirects are
never followed (they could carry the key or the text elsewhere); the API key is read from the
environment at call time and appears in no attribute, message, cache key or pickle."""

from __future__ import annotations

import email.utils
import http.client
import ipaddress
import json
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from augcli import __version__
from augcli.core.errors import RecipeError, Unavailable
from augcli.text.models.base import ModelError, Request

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
RETRY_AFTER_CAP = 60.0  # seconds: the most a server's Retry-After can make us wait
SNIPPET = 200  # characters of an error body kept in a message

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY_PREFIXES = ("sk-", "sk_", "pk-", "rk-", "hf_", "gsk_", "ghp_", "xai-", "key-", "bearer ")
_EXAMPLE_URL = "e.g. http://127.0.0.1:11434/v1"
_sleep = time.sleep  # patched by tests


# -- recipe-time checks ------------------------------------------------------------------------
def check_endpoint(base_url: Any, allow_remote: bool, where: str) -> str:
    """Validate ``base_url`` and return it normalised (scheme and host lower-case, no trailing
    slash). Unless ``allow_remote``, the host must be loopback: ``127.0.0.0/8``, ``::1``,
    ``localhost``, or a name whose every address is loopback (a name that does not resolve is
    remote). With ``allow_remote`` nothing is resolved."""
    if not isinstance(base_url, str) or not base_url.strip():
        raise RecipeError(
            "must be the endpoint's base URL",
            path=where,
            value=base_url,
            fix=f"Give the URL that /chat/completions is under, {_EXAMPLE_URL}.",
        )
    parts, host = _url_parts(base_url, where)
    scheme = parts.scheme.lower()
    if parts.query or parts.fragment:
        raise RecipeError(
            "must not have a query (?...) or fragment (#...)",
            path=where,
            value=base_url,
            fix=f"Give the plain base URL, {_EXAMPLE_URL}.",
        )
    path = parts.path.rstrip("/")
    if path.endswith("/chat/completions"):
        base = urllib.parse.urlunsplit((scheme, parts.netloc, path.rsplit("/chat/", 1)[0], "", ""))
        raise RecipeError(
            "must be the base URL, without /chat/completions (it is added to every request)",
            path=where,
            value=base_url,
            fix=f"Use {base!r}.",
        )
    normal = urllib.parse.urlunsplit((scheme, parts.netloc.lower(), path, "", ""))
    if not allow_remote:
        _check_loopback(host, base_url, where)
    return normal


PREFLIGHT_TIMEOUT = 3.0  # seconds the endpoint has to accept a connection before a run


def check_reachable(base_url: str, where: str) -> None:
    """The endpoint at ``base_url`` accepts a connection within ``PREFLIGHT_TIMEOUT`` seconds
    (RecipeError at ``where`` if not). Skipped when a proxy would carry the requests: only the
    proxy could tell."""
    parts = urllib.parse.urlsplit(base_url)
    host = parts.hostname or ""
    if urllib.request.getproxies() and not urllib.request.proxy_bypass(host):
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=PREFLIGHT_TIMEOUT).close()
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
        raise RecipeError(
            f"the endpoint does not answer ({why})",
            path=where,
            value=base_url,
            fix="Start the server (Ollama: `ollama serve`; vLLM: `vllm serve MODEL`) or fix "
            "base_url; validate and expand try it before any input is read.",
        ) from None


def _url_parts(base_url: str, where: str) -> tuple[urllib.parse.SplitResult, str]:
    """The URL's parts and host: http(s), no credentials in it, a host and a valid port."""
    parts = urllib.parse.urlsplit(base_url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise RecipeError(
            "must be an http:// or https:// URL",
            path=where,
            value=base_url,
            fix=f"Write the scheme, {_EXAMPLE_URL}.",
        )
    if "@" in parts.netloc:  # never echoed: it may hold a password
        raise RecipeError(
            "must not contain a user name or password",
            path=where,
            fix="Put the key in an environment variable and name it in api_key_env.",
        )
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        host = None
    if not host:
        raise RecipeError(
            "must name a host (and a valid port, if any)",
            path=where,
            value=base_url,
            fix=f"Write it in full, {_EXAMPLE_URL}.",
        )
    return parts, host


def _check_loopback(host: str, base_url: str, where: str) -> None:
    """Refuse a host that is not this machine (a name must resolve to loopback only)."""
    if is_loopback(host):
        return
    addresses = _resolve(host) if _ip(host.strip("[]")) is None else [host]
    if is_loopback(host, addresses):
        return
    why = (
        f"host {host!r} does not resolve, so it cannot be checked to be this machine"
        if addresses is None
        else f"host {host!r} is not this machine (not a loopback address)"
    )
    raise RecipeError(
        f"{why}: patient text would be sent to it and leave this machine",
        path=where,
        value=base_url,
        fix="If the data may be sent there, set `allow_remote: true` on the op.",
    )


def check_key_env(name: Any, where: str) -> None:
    """Validate ``api_key_env``: the NAME of a set, non-empty environment variable holding the
    API key (None: no key). A value that looks like a key itself is refused without echoing it;
    the key's value never appears in any message."""
    if name is None:
        return
    paste = "looks like an API key itself; give the name of an environment variable that holds it"
    fix = (
        "For example `export OPENAI_API_KEY=...` before augcli, and `api_key_env: OPENAI_API_KEY`."
    )
    if not isinstance(name, str):
        raise RecipeError(
            f"must be the name of an environment variable (a string), not {type(name).__name__}",
            path=where,
            fix=fix,
        )
    if not name:
        raise RecipeError(
            "must be the name of an environment variable", path=where, value=name, fix=fix
        )
    bare = name.strip().removeprefix("$").removeprefix("{").removesuffix("}")
    if bare != name and _NAME.fullmatch(bare):
        raise RecipeError(
            "must be just the variable's name, without $, braces or spaces",
            path=where,
            value=name,
            fix=f"Write `api_key_env: {bare}`.",
        )
    if not _NAME.fullmatch(name) or name.lower().startswith(_KEY_PREFIXES):
        raise RecipeError(paste, path=where, fix=fix)
    value = os.environ.get(name)
    if value is None and _looks_like_key(name):
        raise RecipeError(paste, path=where, fix=fix)
    if value is None or not value.strip():
        state = "is not set" if value is None else "is empty"
        raise RecipeError(
            f"environment variable {name} (api_key_env) {state}",
            path=where,
            fix=f"Run `export {name}=...` with the endpoint's API key before augcli, or remove "
            "api_key_env if the endpoint needs no key.",
        )


def is_loopback(host: str, addresses: list[str] | None = None) -> bool:
    """Whether ``host`` is this machine: a loopback address, ``localhost``, or a name all of
    whose resolved ``addresses`` are loopback (None or empty: not resolvable, so not)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    literal = _ip(host)
    if literal is not None:
        return literal
    return bool(addresses) and all(_ip(a) for a in addresses)


def _ip(text: str) -> bool | None:
    """Loopback-ness of an IP literal (IPv4-mapped IPv6 included), None when not a literal."""
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    mapped = getattr(addr, "ipv4_mapped", None)
    return (mapped or addr).is_loopback


def _resolve(host: str) -> list[str] | None:
    """Every address ``host`` resolves to, or None when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return None
    return [str(info[4][0]) for info in infos] or None


def _looks_like_key(name: str) -> bool:
    """A valid-looking name that is really a pasted key: long, and mixed-case or digits without
    the underscores of an UPPER_SNAKE name."""
    if len(name) < 20:
        return False
    mixed = any(c.islower() for c in name) and any(c.isupper() for c in name)
    return mixed or ("_" not in name and any(c.isdigit() for c in name))


# -- the backend -------------------------------------------------------------------------------
class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: following one would re-send headers (the key) to another host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        return None


class EndpointBackend:
    """A client for ``POST <base_url>/chat/completions``: one user message per request, at most
    ``concurrency`` in flight, retries with exponential backoff (or ``Retry-After``) on 429, 5xx
    gateway errors, connection errors and timeouts. Picklable; the opener is made on first use
    and a thread pool per batch."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key_env: str | None = None,
        temperature: float = 0.7,
        max_tokens: int | None = None,
        timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 1.0,
        concurrency: int = 4,
    ) -> None:
        if concurrency < 1 or retries < 0 or timeout <= 0 or backoff < 0:
            raise ValueError("need concurrency >= 1, retries >= 0, timeout > 0, backoff >= 0")
        if urllib.parse.urlsplit(base_url).scheme.lower() not in ("http", "https"):
            raise ValueError("base_url must be http:// or https:// (see check_endpoint)")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env  # the variable's name only, never its value
        self.temperature = float(temperature)
        self.max_tokens = None if max_tokens is None else int(max_tokens)
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.concurrency = int(concurrency)
        self.url = self.base_url + "/chat/completions"
        self._opener: urllib.request.OpenerDirector | None = None
        self._down: Unreachable | None = None  # a request found no server: the others stop

    def __repr__(self) -> str:
        return (
            f"EndpointBackend(base_url={self.base_url!r}, model={self.model!r}, "
            f"api_key_env={self.api_key_env!r}, temperature={self.temperature!r}, "
            f"max_tokens={self.max_tokens!r}, timeout={self.timeout!r}, retries={self.retries!r}, "
            f"backoff={self.backoff!r}, concurrency={self.concurrency!r})"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_opener"] = None  # rebuilt in the process that uses it
        state["_down"] = None
        return state

    @property
    def key(self) -> str:
        return f"openai|{self.base_url}|{self.model}|t={self.temperature!r}|max={self.max_tokens}"

    @property
    def batch_size(self) -> int:
        return self.concurrency * 4

    def run(self, requests: list[Request]) -> list[str | ModelError]:
        """One completion (or the reason there is none) per request, in order. Raises
        ``ModelError`` for the whole batch only when the key's variable is not set."""
        if not requests:
            return []
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"augcli/{__version__}",
        }
        if self.api_key_env:
            key = os.environ.get(self.api_key_env, "").strip()
            if not key:
                raise ModelError(
                    f"environment variable {self.api_key_env} (api_key_env) is not set or empty"
                )
            headers["Authorization"] = f"Bearer {key}"
        else:
            key = ""
        opener = self._get_opener()
        workers = min(self.concurrency, len(requests))
        with ThreadPoolExecutor(workers, thread_name_prefix="augcli-endpoint") as pool:
            answers = list(pool.map(lambda r: self._one(opener, headers, key, r), requests))
        down = next((a for a in answers if isinstance(a, Unreachable)), None)
        if down is not None:  # the circuit breaker: every other request would fail the same way
            raise Unavailable(f"the model endpoint is down: {down}")
        return answers

    # -- internals -----------------------------------------------------------------------------
    def _get_opener(self) -> urllib.request.OpenerDirector:
        """No redirects ever; no environment proxies for a loopback host."""
        if self._opener is None:
            handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
            if self._direct():
                handlers.append(urllib.request.ProxyHandler({}))
            self._opener = urllib.request.build_opener(*handlers)
        return self._opener

    def _direct(self) -> bool:
        """Whether the host is loopback, so proxies must be bypassed. A name is resolved only
        when an environment proxy would otherwise be used."""
        parts = urllib.parse.urlsplit(self.base_url)
        host = parts.hostname or ""
        if is_loopback(host):
            return True
        if parts.scheme not in urllib.request.getproxies():
            return False  # no proxy would be used anyway
        return is_loopback(host, _resolve(host))

    def _payload(self, request: Request) -> bytes:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": request.text}],
            "temperature": self.temperature,
            "n": 1,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        return json.dumps(body, ensure_ascii=False).encode("utf-8")

    def _one(
        self, opener: urllib.request.OpenerDirector, headers: dict[str, str], key: str, r: Request
    ) -> str | ModelError:
        try:
            return self._call(opener, headers, key, r)
        except Exception as exc:  # a bug or an odd library error must fail one record only
            return ModelError(_redact(f"unexpected {type(exc).__name__}: {exc}", key))

    def _call(
        self, opener: urllib.request.OpenerDirector, headers: dict[str, str], key: str, r: Request
    ) -> str | ModelError:
        data = self._payload(r)
        attempts = self.retries + 1
        refused = 0  # attempts that found no server at all (refused, or no such host)
        for attempt in range(attempts):
            if self._down is not None:  # another request of the batch found no server
                return self._down
            made = attempt + 1
            wait: float | None = None
            req = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with opener.open(req, timeout=self.timeout) as resp:
                    raw = resp.read()
                return _content(raw, key)
            except urllib.error.HTTPError as exc:
                status, body = exc.code, _read_error(exc)
                reason = f"HTTP {status} from {self.url}: {_snippet(body, key)}"
                if 300 <= status < 400:
                    reason += " (redirects are not followed: give the final URL)"
                if status not in RETRY_STATUS:
                    return ModelError(f"{reason} (attempt {made}, not retryable)")
                wait = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            except TimeoutError:
                reason = f"no response from {self.url} within {self.timeout:g} s"
            except urllib.error.URLError as exc:
                if isinstance(exc.reason, TimeoutError):
                    reason = f"no response from {self.url} within {self.timeout:g} s"
                else:
                    reason = f"cannot reach {self.url}: {_redact(str(exc.reason), key)}"
                    refused += _refused(exc.reason)
            except (OSError, http.client.HTTPException) as exc:  # resets, bad status lines
                reason = f"connection to {self.url} failed: {type(exc).__name__}: {exc}"
                reason = _redact(reason, key)
                refused += _refused(exc)
            if made < attempts:
                _sleep(self.backoff * 2**attempt if wait is None else wait)
        reason += f" (after {attempts} attempt{'s' * (attempts > 1)})"
        if refused < attempts:
            return ModelError(reason)
        self._down = Unreachable(reason)
        return self._down


class Unreachable(ModelError):
    """Every attempt of a request found no server: the connection was refused or the host name
    did not resolve (not a slow or failing server, which a later request may find better)."""


def _refused(reason: object) -> bool:
    return isinstance(reason, (ConnectionRefusedError, socket.gaierror))


def _content(raw: bytes, key: str) -> str | ModelError:
    """The completion text of a 2xx body, or why there is none."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return ModelError(f"response is not valid JSON: {_snippet(raw, key)}")
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        content = None
    if not isinstance(content, str):
        return ModelError(
            f"response has no text at choices[0].message.content: {_snippet(raw, key)}"
        )
    if not content.strip():
        return ModelError("response text is empty")
    return content


def _read_error(exc: urllib.error.HTTPError) -> bytes:
    """An error response's body (empty if it cannot be read); the response is closed."""
    try:
        return exc.read() or b""
    except Exception:
        return b""
    finally:
        exc.close()


def _snippet(body: bytes, key: str) -> str:
    """The start of a body for a message: one line, at most ``SNIPPET`` characters, key-free."""
    text = " ".join(_redact(body.decode("utf-8", "replace"), key).split())
    if not text:
        return "(empty body)"
    return text if len(text) <= SNIPPET else text[: SNIPPET - 3] + "..."


def _redact(text: str, key: str) -> str:
    """``text`` with the key (if a server echoed it) replaced by ``***``."""
    return text.replace(key, "***") if key else text


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), capped at
    ``RETRY_AFTER_CAP``; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)
