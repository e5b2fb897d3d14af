from mtdlab.contract.console_auth import Verifier, sign, signature

KEY = b"k" * 32


def test_signed_request_is_accepted_once():
    v = Verifier(KEY, clock=lambda: 1000.0)
    h = sign(KEY, "POST", "/hop", b'{"service":"web"}', now=1000)
    assert v.check("POST", "/hop", b'{"service":"web"}', h) is None
    assert v.check("POST", "/hop", b'{"service":"web"}', h) == "replayed nonce"


def test_every_kind_of_bad_request_is_refused():
    v = Verifier(KEY, clock=lambda: 1000.0)
    body = b'{"paused":true}'
    good = sign(KEY, "POST", "/config", body, now=1000)
    cases = {
        "unsigned": ({}, body, "/config", "POST"),
        "wrong key": (sign(b"x" * 32, "POST", "/config", body, now=1000), body, "/config", "POST"),
        "tampered body": (good, b'{"paused":false}', "/config", "POST"),
        "other path": (good, body, "/hop", "POST"),
        "other method": (good, body, "/config", "PUT"),
        "stale": (sign(KEY, "POST", "/config", body, now=1000 - 31), body, "/config", "POST"),
        "from the future": (sign(KEY, "POST", "/config", body, now=1000 + 31), body, "/config", "POST"),
    }
    for name, (headers, b, path, method) in cases.items():
        assert v.check(method, path, b, headers) is not None, name
    assert v.check("POST", "/config", body, good) is None   # the good one still works after all that


def test_signature_covers_every_part():
    base = ("GET", "/map", b"", "1000", "n" * 16)
    s = signature(KEY, *base)
    for i, other in enumerate(["POST", "/mapx", b"x", "1001", "m" * 16]):
        changed = list(base)
        changed[i] = other
        assert signature(KEY, *changed) != s
