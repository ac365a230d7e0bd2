"""Benchmarks: figures printed beside a baseline measured in the same run (never asserted in tests)."""

from ._intake import IntakeBenchmark, run_intake_benchmark
from ._respond import RespondBenchmark, run_respond_benchmark
from ._triage import TriageBenchmark, run_triage_benchmark

__all__ = [
    "IntakeBenchmark",
    "RespondBenchmark",
    "TriageBenchmark",
    "run_intake_benchmark",
    "run_respond_benchmark",
    "run_triage_benchmark",
]
