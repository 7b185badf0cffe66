"""The benchmark of docs/speed.md: `python benchmarks/run_benchmark.py [options]` is `googlenet benchmark`.

    python benchmarks/run_benchmark.py --json > benchmark.json
    python benchmarks/run_benchmark.py --batch-sizes 1 32 --train-sizes 96 --backends onnxruntime int8
"""

import sys

from googlenet.cli import main

if __name__ == "__main__":
    sys.exit(main(["benchmark", *sys.argv[1:]]))
