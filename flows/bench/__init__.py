"""Benchmarks: figures printed beside a baseline measured in the same run (never asserted in tests)."""

from ._intake import IntakeBenchmark, run_intake_benchmark
from ._respond import RespondBenchmark, run_respond_benchmark
from ._sigma import SigmaBenchmark, run_sigma_benchmark
from ._suite import FULL, QUICK, Sizes, Suite, run_suite
from ._triage import TriageBenchmark, run_triage_benchmark

__all__ = [
    "FULL",
    "QUICK",
    "IntakeBenchmark",
    "RespondBenchmark",
    "SigmaBenchmark",
    "Sizes",
    "Suite",
    "TriageBenchmark",
    "run_intake_benchmark",
    "run_respond_benchmark",
    "run_sigma_benchmark",
    "run_suite",
    "run_triage_benchmark",
]
