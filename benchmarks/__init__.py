"""Speed, scale and memory benchmarks, each figure measured against a baseline in the same run.

``python -m benchmarks.run [--quick] [--only NAME]`` (or ``make bench``) runs every ``bench_*.py``
module, stores one JSON record per figure in ``benchmarks/results/`` and rebuilds ``benchmarks/REPORT.md``
from those records. See :mod:`benchmarks.harness` for how to write a benchmark.
"""
