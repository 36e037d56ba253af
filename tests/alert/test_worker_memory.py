"""The worker memory benchmark reads where a process's memory lies from both allocators."""

from __future__ import annotations

import platform

import pytest

from benchmarks.worker_memory import Allocators


def test_python_arenas_are_read_and_hold_their_blocks() -> None:
    memory = Allocators()
    assert memory.arenas > 0
    assert 0 < memory.arenas_used + memory.arenas_free <= memory.arenas


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallinfo2 is glibc's")
def test_c_heap_is_read_on_glibc() -> None:
    assert Allocators().heap_used > 0


def test_each_figure_is_described_with_its_growth() -> None:
    start = Allocators()
    described = Allocators().describe(start)
    assert described.startswith("C heap in use ")
    assert described.count(" MB (") == 6
