"""Shared test setup: CPU only, one thread, no network, and a fixed test key."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import pytest  # noqa: E402

from deid.key import Key  # noqa: E402

TEST_SECRET = b"test-key-0123456789abcdef-not-for-real-data"


@pytest.fixture
def key() -> Key:
    return Key(TEST_SECRET)


@pytest.fixture
def key_file(tmp_path):
    p = tmp_path / "deid.key"
    p.write_bytes(TEST_SECRET)
    return p
