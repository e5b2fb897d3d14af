"""One loader per key kind (mtdlab.contract.keys): errors name the kind and where the key was read."""
import stat

import pytest

from mtdlab.contract import keys

KEY = bytes(range(32))


def test_key_loading():
    assert keys.parse(keys.KEYED, " " + KEY.hex() + "\n", "here") == KEY
    with pytest.raises(ValueError, match="hex"):
        keys.parse(keys.KEYED, "not hex", "here")
    with pytest.raises(ValueError, match="at least 16 bytes"):
        keys.parse(keys.KEYED, "00ff", "here")


@pytest.mark.parametrize("kind", keys.KINDS)
def test_errors_name_the_kind_and_the_source(kind, tmp_path):
    with pytest.raises(keys.KeyError_, match=f"the {kind.name} is missing .environment variable {kind.env} is empty"):
        keys.from_env(kind, {})
    with pytest.raises(keys.KeyError_, match=f"the {kind.name} in environment variable {kind.env} must be hex"):
        keys.from_env(kind, {kind.env: "zz"})
    bad = tmp_path / "short.key"
    bad.write_text("abcd\n")
    with pytest.raises(keys.KeyError_, match=f"the {kind.name} in {bad} must be at least 16 bytes"):
        keys.from_file(kind, bad)
    with pytest.raises(keys.KeyError_, match=f"the {kind.name} file {tmp_path / 'none'} cannot be read"):
        keys.from_file(kind, tmp_path / "none")
    assert keys.from_env(kind, {kind.env: KEY.hex()}) == KEY


def test_new_keys_are_fresh_and_kept_owner_only(tmp_path):
    a, b = keys.new(), keys.new()
    assert a != b and len(bytes.fromhex(a)) == keys.NEW_BYTES
    for kind in keys.KINDS:
        if kind.file:
            path = keys.write(kind, tmp_path, a)
            assert stat.S_IMODE(path.stat().st_mode) == 0o600 and keys.from_file(kind, path) == bytes.fromhex(a)
    assert len({k.env for k in keys.KINDS}) == len(keys.KINDS)
