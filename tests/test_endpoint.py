"""The ``openai`` endpoint backend: recipe-time checks (loopback rule, key variable) and the HTTP
client against the loopback fake in ``chat_server.py``."""

from __future__ import annotations

import pickle
import socket
import threading
import urllib.error
import urllib.request

import pytest
from chat_server import ChatServer, completion, last_user_message, paraphrase

from augcli.core.errors import RecipeError, Unavailable
from augcli.text.models import endpoint
from augcli.text.models.base import ModelError, Request
from augcli.text.models.endpoint import EndpointBackend, check_endpoint, check_key_env

WHERE = "text.pipeline[0].paraphrase.base_url"
SECRET = "sk-live-TOPSECRET-0123456789abcdef"
REAL_GETADDRINFO = socket.getaddrinfo


def fake_dns(monkeypatch: pytest.MonkeyPatch, table: dict[str, list[str] | None]) -> list[str]:
    """Answer getaddrinfo for the names in ``table`` (None: does not resolve); return the names
    looked up, in order."""
    asked: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        asked.append(host)
        if host not in table:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        if table[host] is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port or 0, 0, 0) if ":" in a else (a, port or 0),
            )
            for a in table[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def backend(url: str, **kwargs) -> EndpointBackend:
    settings = {"model": "fake-model", "timeout": 2.0, "retries": 2, "backoff": 0.001}
    settings.update(kwargs)
    return EndpointBackend(base_url=url, **settings)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backend's retry waits, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr(endpoint, "_sleep", waits.append)
    return waits


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)


def scripted(script: dict[str, list]):
    """A responder answering each prompt from its list in turn (the last entry repeats); an
    entry is ``(status, headers, body)``, or a string meaning a normal completion of it."""
    seen: dict[str, int] = {}
    lock = threading.Lock()

    def respond(body: dict):
        prompt = last_user_message(body)
        with lock:
            n = seen[prompt] = seen.get(prompt, 0) + 1
        steps = script.get(prompt, [paraphrase(prompt)])
        step = steps[min(n, len(steps)) - 1]
        return (200, {}, completion(step)) if isinstance(step, str) else step

    return respond


# -- check_endpoint ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"),
        ("http://localhost:11434/v1/", "http://localhost:11434/v1"),
        ("HTTPS://LocalHost/v1//", "https://localhost/v1"),
        ("http://[::1]:8000/v1", "http://[::1]:8000/v1"),
        ("http://127.5.5.5/v1", "http://127.5.5.5/v1"),
        ("  http://127.0.0.1:8000  ", "http://127.0.0.1:8000"),
        ("http://[::ffff:127.0.0.1]:80/v1", "http://[::ffff:127.0.0.1]:80/v1"),
    ],
)
def test_check_endpoint_accepts_loopback(monkeypatch, url, normal):
    asked = fake_dns(monkeypatch, {})
    assert check_endpoint(url, False, WHERE) == normal
    assert asked == []  # literals and localhost need no lookup


def test_check_endpoint_accepts_a_name_that_resolves_only_to_loopback(monkeypatch):
    fake_dns(monkeypatch, {"llm.internal": ["127.0.0.1", "::1"]})
    assert check_endpoint("http://llm.internal:8000/v1", False, WHERE) == (
        "http://llm.internal:8000/v1"
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.1:8000/v1", "is not this machine"),
        ("http://192.168.1.2/v1", "is not this machine"),
        ("https://example.com/v1", "is not this machine"),
        ("http://half.internal/v1", "is not this machine"),  # one address is loopback, one not
        ("http://nowhere.invalid/v1", "does not resolve"),
        ("http://0.0.0.0:8000/v1", "is not this machine"),
    ],
)
def test_check_endpoint_refuses_remote_without_allow_remote(monkeypatch, url, reason):
    fake_dns(
        monkeypatch,
        {
            "example.com": ["93.184.215.14"],
            "half.internal": ["127.0.0.1", "10.1.2.3"],
            "nowhere.invalid": None,
        },
    )
    with pytest.raises(RecipeError) as info:
        check_endpoint(url, False, WHERE)
    msg = str(info.value)
    assert msg.startswith(WHERE + ": ")
    assert reason in msg
    assert "leave this machine" in msg
    assert "allow_remote: true" in msg
    # with allow_remote the same URL is accepted, and nothing is resolved
    asked = fake_dns(monkeypatch, {})
    assert check_endpoint(url, True, WHERE) == url
    assert asked == []


@pytest.mark.parametrize(
    ("url", "what"),
    [
        (None, "base URL"),
        ("", "base URL"),
        ("   ", "base URL"),
        (8080, "base URL"),
        ("ftp://127.0.0.1/v1", "http:// or https://"),
        ("127.0.0.1:8080/v1", "http:// or https://"),
        ("localhost:8080", "http:// or https://"),
        ("http:///v1", "must name a host"),
        ("http://", "must name a host"),
        ("http://127.0.0.1:99999/v1", "must name a host"),
        ("http://127.0.0.1:8000/v1?x=1", "query"),
        ("http://127.0.0.1:8000/v1/chat/completions", "without /chat/completions"),
    ],
)
def test_check_endpoint_refuses_malformed(url, what):
    with pytest.raises(RecipeError) as info:
        check_endpoint(url, True, WHERE)
    assert what in str(info.value)
    assert str(info.value).startswith(WHERE)


def test_check_endpoint_names_the_base_url_to_use_instead_of_the_full_path():
    with pytest.raises(RecipeError) as info:
        check_endpoint("http://127.0.0.1:8000/v1/chat/completions/", False, WHERE)
    assert "'http://127.0.0.1:8000/v1'" in info.value.fix


def test_check_endpoint_never_echoes_credentials_in_the_url():
    with pytest.raises(RecipeError) as info:
        check_endpoint("http://user:hunter2secret@127.0.0.1/v1", False, WHERE)
    assert "hunter2secret" not in str(info.value)
    assert "api_key_env" in str(info.value)


# -- check_key_env -------------------------------------------------------------------------------
def test_check_key_env_none_and_set_name(monkeypatch):
    check_key_env(None, "x.api_key_env")
    monkeypatch.setenv("AUGCLI_TEST_KEY", SECRET)
    check_key_env("AUGCLI_TEST_KEY", "x.api_key_env")


def test_check_key_env_unset_or_empty_names_the_variable(monkeypatch):
    monkeypatch.delenv("AUGCLI_UNSET_KEY", raising=False)
    with pytest.raises(RecipeError) as info:
        check_key_env("AUGCLI_UNSET_KEY", "x.api_key_env")
    msg = str(info.value)
    assert msg.startswith("x.api_key_env: ")
    assert "AUGCLI_UNSET_KEY" in msg and "not set" in msg
    assert "export AUGCLI_UNSET_KEY=" in msg
    monkeypatch.setenv("AUGCLI_UNSET_KEY", "  ")
    with pytest.raises(RecipeError, match="is empty"):
        check_key_env("AUGCLI_UNSET_KEY", "x.api_key_env")


@pytest.mark.parametrize(
    "pasted",
    [
        "sk-abc123XYZ789def456GHI012jkl",
        "sk_abcdef",  # a valid name, but a key's prefix
        "gsk_0123456789abcdefABCDEF",
        "abcDEF123ghiJKL456mnoPQR789",  # valid characters, long and mixed-case
        "3f9a0c1e5b7d4a2f8e6c0b1d3a5f7e9c",  # hex
        "a3f9c1e5b7d4a2f8e6c0b1d3a5f7e9c1",  # hex starting with a letter: a valid name
        "Bearer abc.def-123",
    ],
)
def test_check_key_env_refuses_a_pasted_key_without_echoing_it(pasted):
    with pytest.raises(RecipeError) as info:
        check_key_env(pasted, "x.api_key_env")
    msg = str(info.value)
    assert "looks like an API key itself" in msg
    assert "name of an environment variable" in msg
    assert pasted not in msg
    assert pasted[:8] not in msg
    assert info.value.value is ...


def test_check_key_env_other_mistakes(monkeypatch):
    with pytest.raises(RecipeError, match=r"without \$") as info:
        check_key_env("$OPENAI_API_KEY", "x.api_key_env")
    assert "api_key_env: OPENAI_API_KEY" in info.value.fix
    with pytest.raises(RecipeError, match="not int"):
        check_key_env(42, "x.api_key_env")
    with pytest.raises(RecipeError, match="name of an environment variable"):
        check_key_env("", "x.api_key_env")
    # lower-case and long UPPER_SNAKE names are names, not keys
    monkeypatch.delenv("my_service_api_key_for_tests", raising=False)
    with pytest.raises(RecipeError, match="is not set"):
        check_key_env("my_service_api_key_for_tests", "x.api_key_env")
    monkeypatch.setenv("AUGCLI_VERY_LONG_SERVICE_API_KEY_2", "k")
    check_key_env("AUGCLI_VERY_LONG_SERVICE_API_KEY_2", "x.api_key_env")


# -- the backend: requests and results -----------------------------------------------------------
def test_request_body_and_headers(monkeypatch, no_proxy_env):
    monkeypatch.setenv("AUGCLI_TEST_KEY", SECRET)
    with ChatServer() as server:
        b = backend(server.url + "/", api_key_env="AUGCLI_TEST_KEY", temperature=0.3, max_tokens=64)
        out = b.run([Request("Rewrite:\n\nThe scan shows a nodule.", seed=7), Request("a b")])
        assert out == ["The scan demonstrates a nodule.", "b a"]
        assert server.paths == ["/v1/chat/completions"] * 2
        bodies = {body["messages"][0]["content"]: (body, h) for body, h in server.requests}
    body, headers = bodies["Rewrite:\n\nThe scan shows a nodule."]
    assert body == {
        "model": "fake-model",
        "messages": [{"role": "user", "content": "Rewrite:\n\nThe scan shows a nodule."}],
        "temperature": 0.3,
        "n": 1,
        "seed": 7,
        "max_tokens": 64,
    }
    assert headers["Authorization"] == f"Bearer {SECRET}"
    assert headers["content-type"] == "application/json"
    body, _ = bodies["a b"]
    assert "seed" not in body


def test_no_key_no_max_tokens(no_proxy_env):
    with ChatServer() as server:
        assert backend(server.url).run([Request("one two", seed=0)]) == ["two one"]
        body, headers = server.requests[0]
    assert body["seed"] == 0  # a seed of 0 is still a seed
    assert "max_tokens" not in body
    assert body["temperature"] == 0.7
    assert "authorization" not in headers


def test_key_and_batch_size():
    b = EndpointBackend(base_url="http://127.0.0.1:1/v1/", model="llama3", max_tokens=128)
    assert b.key == "openai|http://127.0.0.1:1/v1|llama3|t=0.7|max=128"
    assert b.batch_size == 16
    other = EndpointBackend(base_url="http://127.0.0.1:1/v1", model="llama3", temperature=1)
    assert other.key == "openai|http://127.0.0.1:1/v1|llama3|t=1.0|max=None"
    assert EndpointBackend(base_url="http://x/v1", model="m", concurrency=2).batch_size == 8
    assert b.run([]) == []
    with pytest.raises(ValueError):
        EndpointBackend(base_url="http://x/v1", model="m", concurrency=0)
    with pytest.raises(ValueError):
        EndpointBackend(base_url="file:///etc", model="m")


def test_results_in_request_order_when_answers_arrive_out_of_order(no_proxy_env):
    texts = [f"word{i} other{i}" for i in range(12)]

    def delay(body):  # earlier requests answer later
        return 0.004 * (12 - int(last_user_message(body).split()[0][4:]))

    with ChatServer(delay=delay) as server:
        out = backend(server.url, concurrency=4).run([Request(t) for t in texts])
    assert out == [paraphrase(t) for t in texts]
    assert server.count == 12


def test_concurrency_limit(no_proxy_env):
    with ChatServer(delay=0.03) as server:
        out = backend(server.url, concurrency=4).run([Request(f"a b{i}") for i in range(16)])
        assert all(isinstance(o, str) for o in out)
        assert 1 < server.max_in_flight <= 4
    with ChatServer(delay=0.01) as server:
        backend(server.url, concurrency=1).run([Request(f"a b{i}") for i in range(4)])
        assert server.max_in_flight == 1


# -- retries -------------------------------------------------------------------------------------
def test_429_with_retry_after_then_success(no_proxy_env, sleeps):
    script = {"x y": [(429, {"Retry-After": "0.25"}, {"error": "slow down"}), "fine"]}
    with ChatServer(scripted(script)) as server:
        assert backend(server.url).run([Request("x y")]) == ["fine"]
        assert server.count == 2
    assert sleeps == [0.25]


def test_retry_after_is_capped_and_dates_are_read(no_proxy_env, sleeps):
    script = {
        "a b": [(429, {"Retry-After": "3600"}, b""), "ok"],
        "c d": [(503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, b""), "ok"],  # past
    }
    with ChatServer(scripted(script)) as server:
        assert backend(server.url, concurrency=1).run([Request("a b"), Request("c d")]) == [
            "ok",
            "ok",
        ]
    assert sleeps == [60.0, 0.0]


def test_503_twice_then_success_with_exponential_backoff(no_proxy_env, sleeps):
    busy = (503, {}, {"error": {"message": "loading model"}})
    with ChatServer(scripted({"p q": [busy, busy, "done"]})) as server:
        b = backend(server.url, retries=4, backoff=0.01)
        assert b.run([Request("p q")]) == ["done"]
        assert server.count == 3
    assert sleeps == [0.01, 0.02]


def test_real_backoff_sleeps(no_proxy_env):
    busy = (502, {}, b"bad gateway")
    with ChatServer(scripted({"p q": [busy, busy, "done"]})) as server:
        assert backend(server.url, retries=2, backoff=0.01).run([Request("p q")]) == ["done"]
        assert server.count == 3


def test_500_forever_fails_after_all_attempts(no_proxy_env, sleeps):
    with ChatServer(lambda body: (500, {}, {"error": {"message": "boom " + "x" * 500}})) as server:
        (out,) = backend(server.url, retries=3).run([Request("a b")])
        assert server.count == 4
    assert isinstance(out, ModelError)
    msg = str(out)
    assert "HTTP 500" in msg and "boom" in msg and "after 4 attempts" in msg
    assert len(msg) < 400  # the body is cut short
    assert len(sleeps) == 3


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_other_client_errors_are_not_retried(no_proxy_env, sleeps, status):
    with ChatServer(lambda body: (status, {}, {"error": {"message": "nope"}})) as server:
        (out,) = backend(server.url, retries=3).run([Request("a b")])
        assert server.count == 1
    assert isinstance(out, ModelError)
    assert f"HTTP {status}" in str(out) and "nope" in str(out) and "not retryable" in str(out)
    assert sleeps == []


def test_bad_answers_fail_their_own_slot_only(no_proxy_env, sleeps):
    script = {
        "bad json": [(200, {}, b"{not json")],
        "blank": [(200, {}, completion(" \n\t "))],
        "null": [(200, {}, completion(None))],
        "number": [(200, {}, completion(42))],
        "no choices": [(200, {}, {"choices": []})],
        "html": [(200, {"Content-Type": "text/html"}, b"<html>proxy login</html>")],
    }
    prompts = ["one two", *script, "three four"]
    with ChatServer(scripted(script)) as server:
        out = backend(server.url).run([Request(p) for p in prompts])
        assert server.count == len(prompts)  # none of these is retried
    assert out[0] == "two one" and out[-1] == "four three"
    errors = dict(zip(prompts[1:-1], out[1:-1], strict=True))
    assert all(isinstance(e, ModelError) for e in errors.values())
    assert "not valid JSON" in str(errors["bad json"]) and "{not json" in str(errors["bad json"])
    assert "empty" in str(errors["blank"])
    for name in ("null", "number", "no choices"):
        assert "choices[0].message.content" in str(errors[name])
    assert "proxy login" in str(errors["html"])
    assert sleeps == []


def test_content_is_returned_as_sent(no_proxy_env):
    with ChatServer(lambda body: (200, {}, completion("  Spaced out.\n"))) as server:
        assert backend(server.url).run([Request("a")]) == ["  Spaced out.\n"]


def test_timeout_is_retried_then_fails(no_proxy_env):
    with ChatServer(delay=0.5) as server:
        (out,) = backend(server.url, timeout=0.05, retries=1, backoff=0.01).run([Request("a b")])
        assert server.count == 2
    assert isinstance(out, ModelError)
    assert "no response" in str(out) and "after 2 attempts" in str(out)


def test_connection_refused_is_retried_then_stops_the_run(no_proxy_env, sleeps):
    """No server at all (refused every time): the whole run stops (``Unavailable``, the circuit
    breaker), rather than every other request failing the same way after its retries."""
    with pytest.raises(Unavailable) as stopped:
        backend(f"http://127.0.0.1:{free_port()}/v1", retries=2).run([Request("a"), Request("b")])
    assert "cannot reach" in str(stopped.value) and "after 3 attempts" in str(stopped.value)
    assert 2 <= len(sleeps) <= 4  # one request's retries; the other stops once it has tripped


def test_a_name_that_does_not_resolve_stops_the_run(monkeypatch, no_proxy_env, sleeps):
    def getaddrinfo(*_args, **_kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(Unavailable, match="Name or service not known"):
        backend("http://gone.invalid:8080/v1", retries=1).run([Request("a")])


def test_redirects_are_not_followed(monkeypatch, no_proxy_env):
    monkeypatch.setenv("AUGCLI_TEST_KEY", SECRET)
    with ChatServer() as elsewhere:
        target = elsewhere.url + "/chat/completions"
        with ChatServer(lambda body: (307, {"Location": target}, b"")) as server:
            (out,) = backend(server.url, api_key_env="AUGCLI_TEST_KEY").run([Request("a b")])
            assert server.count == 1
        assert elsewhere.count == 0
    assert isinstance(out, ModelError) and "HTTP 307" in str(out)
    assert "redirects are not followed" in str(out)


# -- secrets -------------------------------------------------------------------------------------
def test_key_never_leaks(monkeypatch, no_proxy_env, sleeps):
    monkeypatch.setenv("AUGCLI_TEST_KEY", SECRET)

    def echo_headers(body):  # a careless server echoing the request's headers in its errors
        return 401, {}, {"error": f"bad key {SECRET} (Authorization: Bearer {SECRET})"}

    b = backend("http://127.0.0.1:1/v1", api_key_env="AUGCLI_TEST_KEY")
    assert SECRET.encode() not in pickle.dumps(b)
    with ChatServer(echo_headers) as server:
        b = backend(server.url, api_key_env="AUGCLI_TEST_KEY")
        (out,) = b.run([Request("a b")])
        assert server.requests[0][1]["authorization"] == f"Bearer {SECRET}"
    assert isinstance(out, ModelError)
    assert SECRET not in str(out) and SECRET not in repr(out)
    assert "***" in str(out)
    for shown in (repr(b), b.key, str(vars(b))):
        assert SECRET not in shown
    assert "AUGCLI_TEST_KEY" in repr(b)
    data = pickle.dumps(b)  # after use too
    assert SECRET.encode() not in data
    # errors while connecting do not carry it either
    with pytest.raises(Unavailable) as stopped:
        backend(f"http://127.0.0.1:{free_port()}/v1", api_key_env="AUGCLI_TEST_KEY").run(
            [Request("a")]
        )
    assert SECRET not in str(stopped.value)


def test_key_read_at_call_time(monkeypatch, no_proxy_env):
    monkeypatch.delenv("AUGCLI_LATE_KEY", raising=False)
    with ChatServer() as server:
        b = backend(server.url, api_key_env="AUGCLI_LATE_KEY")
        with pytest.raises(ModelError, match="AUGCLI_LATE_KEY"):
            b.run([Request("a b")])
        assert server.count == 0
        monkeypatch.setenv("AUGCLI_LATE_KEY", "first")
        b.run([Request("a b")])
        monkeypatch.setenv("AUGCLI_LATE_KEY", "second")
        b.run([Request("a b")])
        assert [h["authorization"] for _, h in server.requests] == ["Bearer first", "Bearer second"]


def test_pickle_round_trip_before_and_after_use(no_proxy_env):
    with ChatServer() as server:
        b = backend(server.url)
        fresh = pickle.loads(pickle.dumps(b))
        assert fresh.run([Request("a b")]) == ["b a"]
        copy = pickle.loads(pickle.dumps(fresh))
        assert copy.run([Request("c d")]) == ["d c"]
        assert copy.key == b.key


# -- proxies -------------------------------------------------------------------------------------
def dead_proxy(monkeypatch: pytest.MonkeyPatch) -> str:
    proxy = f"http://127.0.0.1:{free_port()}"
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(name, proxy)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    return proxy


def test_loopback_bypasses_environment_proxies(monkeypatch):
    dead_proxy(monkeypatch)
    with ChatServer() as server:
        # the test means something: urllib on its own would go through the dead proxy
        req = urllib.request.Request(server.url + "/chat/completions", data=b"{}", method="POST")
        with pytest.raises(urllib.error.URLError):
            urllib.request.build_opener().open(req, timeout=1)
        assert backend(server.url, retries=0).run([Request("a b")]) == ["b a"]
        localhost = server.url.replace("127.0.0.1", "localhost")
        assert backend(localhost, retries=0).run([Request("c d")]) == ["d c"]


def test_name_resolving_to_loopback_bypasses_proxies(monkeypatch):
    dead_proxy(monkeypatch)
    fake_dns(monkeypatch, {"llm.internal": ["127.0.0.1"]})
    with ChatServer() as server:
        url = server.url.replace("127.0.0.1", "llm.internal")
        assert backend(url, retries=0).run([Request("a b")]) == ["b a"]


def test_remote_url_uses_environment_proxies(monkeypatch):
    asked = fake_dns(monkeypatch, {"remote.test": None})
    with ChatServer() as proxy:
        for name in ("http_proxy", "HTTP_PROXY"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
        for name in ("no_proxy", "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
        # the fake answers only /v1/chat/completions, so route by the proxied absolute URL
        out = backend("http://remote.test/v1", retries=0).run([Request("a b")])
        assert proxy.paths == ["http://remote.test/v1/chat/completions"]
    assert out == ["b a"]
    assert "remote.test" in asked  # looked up (and not found) only to decide about the proxy


def test_paraphrase_is_deterministic_and_always_changes():
    assert paraphrase("Rewrite:\n\nThe scan shows a nodule.") == "The scan demonstrates a nodule."
    assert paraphrase("Mild effusion noted.") == "effusion Mild noted."
    assert paraphrase("Normal.") == "In other words, Normal."
    assert paraphrase("no no") == "In other words, no no"
