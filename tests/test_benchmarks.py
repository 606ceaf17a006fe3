"""The benchmarks' own arithmetic: the flops that profile_step books per convolution call,
from each call's shapes, add up to bench_step's count from the layer shapes, and the
profiler leaves nn as it found it."""
import os
import sys

import pytest

import nn.fast.layers

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "benchmarks")
sys.path.insert(0, BENCHMARKS)
profile_step = pytest.importorskip("profile_step")
bench_step = pytest.importorskip("bench_step")


@pytest.mark.parametrize("config", [(4, 4, 1, 32, 2), (2, 3, 2, 48, 1)])
def test_flops_per_call_add_up_to_the_step_count(config):
    step = bench_step.ours_step(*config, keep_memory=False)
    step()                                  # the first step fills the pools' bookkeeping
    before = {name: nn.fast.layers.FastConv2d.__dict__[name]
              for name in profile_step.KERNELS}
    profiler = profile_step.Profiler()
    profiler.install(by_shape=True)
    try:
        step()
    finally:
        profiler.remove()
    assert sum(profiler.flops.values()) == bench_step.step_flops(*config)
    assert all(len(key) == 4 for key in profiler.flops)      # booked per shape
    assert {name: nn.fast.layers.FastConv2d.__dict__[name]
            for name in profile_step.KERNELS} == before
