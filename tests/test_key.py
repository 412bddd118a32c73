from __future__ import annotations

import pytest

from deid.key import Key, KeyError_


def test_derivations_are_pure_functions_of_key_and_value(key):
    other = Key(b"another-secret-key-of-enough-length")
    assert key.uid("1.2.3.4") == Key(key.secret).uid("1.2.3.4")
    assert key.uid("1.2.3.4") != other.uid("1.2.3.4")
    assert key.uid("1.2.3.4").startswith("2.25.") and len(key.uid("1.2.3.4")) <= 64
    assert key.day_offset("MRN 123") == key.day_offset("mrn  123")  # normalised
    assert -365 <= key.day_offset("x") <= -30
    assert key.pseudonym("Doe^John") == key.pseudonym("doe^john")
    assert key.pseudonym("Doe^John").startswith("ANON")


def test_offsets_spread_over_range(key):
    offs = {key.day_offset(f"patient-{i}") for i in range(200)}
    assert len(offs) > 100


def test_short_key_rejected(tmp_path):
    with pytest.raises(KeyError_):
        Key(b"short")
    p = tmp_path / "k"
    p.write_text("tiny")
    with pytest.raises(KeyError_):
        Key.from_file(p)


def test_load_prefers_file_then_env(tmp_path, monkeypatch):
    monkeypatch.setenv("DEID_KEY", "environment-key-0123456789")
    assert Key.load().secret == b"environment-key-0123456789"
    assert not Key.load().ephemeral
    monkeypatch.delenv("DEID_KEY")
    assert Key.load().ephemeral
    p = tmp_path / "k"
    p.write_text("file-key-0123456789abcdef\n")
    assert Key.load(p).secret == b"file-key-0123456789abcdef"


def test_fingerprint_does_not_reveal_secret(key):
    assert key.secret.hex()[:16] != key.fingerprint()
    assert len(key.fingerprint()) == 16
