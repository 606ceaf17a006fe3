"""Helpers for the tests of untrusted weights files: a refusal must come before allocation."""
import tracemalloc

import pytest


def refused_without_allocating(load, path, error, match, budget=16 * 2 ** 20):
    """``load(path)`` raises ``error`` matching ``match``, never holding more than ``budget``
    bytes meanwhile (a file that declares terabytes must not get them)."""
    tracemalloc.start()
    try:
        with pytest.raises(error, match=match):
            load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < budget, f"{peak / 2 ** 20:.0f} MiB allocated"
