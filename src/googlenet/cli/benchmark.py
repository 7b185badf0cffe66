"""`googlenet benchmark`: our fast paths against torchvision's googlenet, inference and training."""

from __future__ import annotations

import argparse
import sys

from googlenet.cli.common import EXIT_OK, add_json_option, print_json

HELP = "inference and training speed: torchvision's googlenet and our fast paths side by side"
DESCRIPTION = ("Time torchvision's googlenet (eager NCHW, eager channels_last, ONNX Runtime) and every fast path "
               "of ours on the same weights, inference and training, with the machine's fp32 matmul rate.")


def configure(parser: argparse.ArgumentParser) -> None:
    from googlenet.inference.benchmark import FAST_PATHS

    add = parser.add_argument
    add("--batch-sizes", type=int, nargs="*", default=[1, 32], metavar="N",
        help="inference batch sizes; none given: no inference measurement")
    add("--input-size", type=int, default=224, metavar="SIZE", help="inference input side")
    add("--train-sizes", type=int, nargs="*", default=[96, 224], metavar="SIZE",
        help="training input sides; none given: no training measurement")
    add("--train-batch-size", type=int, default=64, metavar="N", help="training batch size")
    add("--backends", nargs="+", metavar="BACKEND", choices=FAST_PATHS,
        help=f"our fast paths to time, of {', '.join(FAST_PATHS)}; none: every one installed")
    add("--train-compile", action="store_true",
        help="also time our training step under torch.compile (minutes of compiling)")
    add("--repeats", type=int, default=10, metavar="N", help="timed repetitions per inference measurement")
    add("--warmup", type=int, default=2, metavar="N", help="untimed calls before each measurement, at least 1")
    add("--train-repeats", type=int, default=5, metavar="N", help="timed steps per training measurement")
    add("--threads", type=int, metavar="N", help="CPU threads; none: torch's default")
    add("--matmul-size", type=int, default=4096, metavar="N", help="side of the reference fp32 matmul")
    add_json_option(parser)


def run(args: argparse.Namespace) -> int:
    from googlenet.inference.benchmark import BenchmarkConfig, format_report, run_benchmark

    config = BenchmarkConfig(
        batch_sizes=tuple(args.batch_sizes), input_size=args.input_size, train_sizes=tuple(args.train_sizes),
        train_batch_size=args.train_batch_size, backends=tuple(args.backends) if args.backends else None,
        train_compile=args.train_compile, repeats=args.repeats, warmup=args.warmup,
        train_repeats=args.train_repeats, threads=args.threads, matmul_size=args.matmul_size,
    )
    report = run_benchmark(config, progress=lambda line: print(f"... {line}", file=sys.stderr, flush=True))
    if args.json:
        print_json(report.to_dict())
    else:
        print(format_report(report))
    return EXIT_OK
