"""The `googlenet` command line: a thin layer over the library.

Each command has an `_add_<command>` function that declares its arguments and the library call
it runs; `build_parser` lists them. Library imports happen inside the commands so that
`googlenet --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from googlenet.models.table import FLAVOURS


def _add_summary(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("summary", help="Table 1 measured on the built model, and the module comparison")
    parser.add_argument("--flavour", choices=sorted(FLAVOURS), default="paper",
                        help="which network to measure (default: paper, to compare with Table 1)")
    parser.add_argument("--input-size", type=int, default=224, help="square input side (default 224)")
    parser.add_argument("--in-chans", type=int, default=3, help="image channels (default 3)")
    parser.add_argument("--naive", action="store_true", help="naive Inception modules instead of reduced ones")
    parser.add_argument("--json", action="store_true", help="machine-readable output")

    def run(args: argparse.Namespace) -> int:
        from googlenet.models.summary import format_report, summarize

        report = summarize(args.flavour, args.input_size, args.naive, args.in_chans)
        print(json.dumps(report.to_dict(), indent=2) if args.json else format_report(report))
        return 0

    parser.set_defaults(run=run)


def _optional_float(text: str) -> float | None:
    return None if text.lower() in ("none", "off", "0") else float(text)


def _add_train(commands: argparse._SubParsersAction) -> None:
    from googlenet.training.trainer import AMP_MODES, SCHEDULES

    parser = commands.add_parser(
        "train", help="train on a built-in data set or an image folder (default: the Fashion-MNIST main job)",
        description="Train GoogLeNet. Every option defaults to the Fashion-MNIST main job; with --resume, the "
        "options the run started with, and any option given here overrides them (e.g. more --epochs).",
    )
    add = parser.add_argument
    add("--data", help="fashion-mnist (default), mnist, kmnist, cifar10, cifar100, or an image folder path")
    add("--data-dir", help="where the data set's files are (default: the system location or cache)")
    add("--output-dir", help="run directory to write (default: runs/fashion-mnist)")
    add("--resume", metavar="DIR", help="continue the run in DIR exactly where it stopped")
    add("--flavour", choices=sorted(FLAVOURS))
    add("--epochs", type=int)
    add("--batch-size", type=int, help="per process")
    add("--input-size", type=int, help="model input side (default: 32 for 28x28/32x32 data sets, 224 else)")
    add("--train-preset", choices=("auto", "paper", "small"))
    add("--random-erase", type=float, help="random erasing probability (default 0; 0.25 in the long preset)")
    add("--no-aux", dest="aux_logits", action="store_false", default=None, help="no auxiliary classifiers")
    add("--aux-weight", type=float)
    add("--lr", type=float, help="learning rate for a global batch of 128 (scaled linearly)")
    add("--momentum", type=float)
    add("--weight-decay", type=float)
    add("--schedule", choices=SCHEDULES, help="cosine with warm-up, or paper: x0.96 every 8 epochs")
    add("--warmup-epochs", type=float)
    add("--label-smoothing", type=float)
    add("--ema-decay", type=_optional_float, help="Polyak averaging decay per step, or 'off'")
    add("--clip-grad-norm", type=_optional_float, help="max gradient norm, or 'off'")
    add("--amp", choices=AMP_MODES, help="bf16 autocast: auto (where supported), bf16, off")
    add("--no-channels-last", dest="channels_last", action="store_false", default=None)
    add("--sync-batch-norm", action="store_true", default=None, help="SyncBatchNorm across processes")
    add("--seed", type=int)
    add("--workers", type=int, help="data loading processes (default 0: in the training process)")
    add("--val-fraction", type=float, help="validation share of an image folder without val/")
    add("--strict", action="store_true", default=None, help="fail on unreadable images instead of skipping them")
    add("--download", action="store_true", default=None, help="allow torchvision to download the data set")
    add("--train-subset", type=int, help="train on the first N images only")
    add("--val-subset", type=int, help="validate on the first N images only")
    add("--device", help="auto (default), cpu, cuda, cuda:1, ...")
    add("--no-tensorboard", dest="tensorboard", action="store_false", default=None)
    add("--no-progress", dest="progress", action="store_false", default=None)

    def run(args: argparse.Namespace) -> int:
        from googlenet.training.trainer import TrainConfig, TrainingDiverged, resume_config, train

        given = {key: value for key, value in vars(args).items()
                 if value is not None and key not in ("command", "run", "resume")}
        config = resume_config(args.resume, given) if args.resume else TrainConfig(**given)
        try:
            result = train(config, resume=args.resume)
        except TrainingDiverged as error:
            print(f"googlenet train: {error}", file=sys.stderr)
            return 1
        if result.status == "interrupted":
            return 130
        print(f"test accuracy (top-1) on {config.data}: {result.best_top1:.2f}% "
              f"({result.best_weights} weights, best of {result.epochs_done} epochs)")
        print(f"model: {result.model_dir}")
        print(f"metrics and plots: {result.run_dir}/metrics.csv, {result.run_dir}/curves.png, "
              f"{result.run_dir}/confusion_matrix.png")
        return 0

    parser.set_defaults(run=run)


BACKEND_CHOICES = ("plain", "auto", "eager", "compile", "onnxruntime", "openvino")  # "plain": the model as saved


def _add_backend_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=BACKEND_CHOICES, default="plain",
                        help="plain (default: the model as saved) or a fast path of googlenet.optimize: auto "
                        "(the fastest installed, measured here), eager, compile, onnxruntime, openvino")


def _fast_model(model: Any, backend: str, command: str) -> Any:
    """`model` (a GoogLeNet) on `backend` (googlenet.optimize); says which backend on stderr."""
    if backend == "plain":
        return model
    from googlenet.inference.optimize import optimize

    fast = optimize(model, backend)
    print(f"googlenet {command}: {fast.describe()}", file=sys.stderr)
    return fast


def _add_evaluate(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("evaluate", help="loss, top-1/top-5, per-class accuracy, confusion matrix")
    parser.add_argument("model", metavar="MODEL", help="a model directory or a training run directory")
    parser.add_argument("--data", required=True, help="a built-in data set name or an image folder")
    parser.add_argument("--data-dir", help="where the data set's files are")
    parser.add_argument("--tta", choices=("center", "10crop", "144crop"), default="center",
                        help="test-time crops: center (default), 10crop, or the paper's 144crop")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--limit", type=int, help="evaluate the first N images only")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--device", default="auto",
                        help="auto (default: the GPU where there is one), cpu, cuda, cuda:1, ...; "
                        "the plain backend only")
    _add_backend_option(parser)
    parser.add_argument("--int8", action="store_true",
                        help="int8 post-training quantization (ONNX Runtime), calibrated on 512 training images")
    parser.add_argument("--json", action="store_true", help="machine-readable output")

    def run(args: argparse.Namespace) -> int:
        import torch

        from googlenet.data.datasets import load_data
        from googlenet.distributed import resolve_device
        from googlenet.evaluation.evaluate import evaluate_model
        from googlenet.evaluation.predict import load_model

        if args.int8 and args.backend != "plain":
            raise ValueError("--int8 runs on ONNX Runtime; leave out --backend")
        # The other backends and int8 run where their runtimes put them: on this process's CPU.
        on_cpu_only = args.int8 or args.backend != "plain"
        if on_cpu_only and args.device not in ("auto", "cpu"):
            what = "--int8" if args.int8 else f"--backend {args.backend}"
            raise ValueError(f"--device {args.device} is for the plain backend; {what} runs on the CPU")
        device = torch.device("cpu") if on_cpu_only else resolve_device(args.device)
        model = load_model(args.model)
        data = load_data(args.data, data_dir=args.data_dir,
                         input_size=model.preprocessing.input_size if model.preprocessing else None)
        if model.class_names and list(data.classes) != list(model.class_names):
            raise ValueError(f"{args.data} has classes {list(data.classes)[:10]}..., the model was trained on "
                             f"{model.class_names[:10]}...: they must match in name and order")
        images = data.val_images
        if args.limit:
            images = torch.utils.data.Subset(images, range(min(args.limit, len(images))))
        if args.int8:
            from googlenet.inference.quantize import calibration_images, quantize

            try:
                model = quantize(model, calibration_images(data, preprocessing=model.preprocessing))
            except ImportError as error:
                print(f"googlenet evaluate: error: --int8: {error}", file=sys.stderr)
                return 2
        else:
            model = _fast_model(model, args.backend, "evaluate")
        backend = getattr(model, "backend", "plain")
        result = evaluate_model(model, images, model.preprocessing or data.preprocessing, model.num_classes,
                                tta=args.tta, batch_size=args.batch_size, workers=args.workers,
                                device=device, progress=not args.json)
        if args.json:
            print(json.dumps({"model": args.model, "data": args.data, "tta": args.tta, "backend": backend,
                              **result.to_dict()}, indent=2))
            return 0
        names = model.class_names or [str(i) for i in range(model.num_classes)]
        how = args.tta if backend == "plain" else f"{args.tta}, {backend}"
        print(f"{args.data} ({result.count} images, {how}): loss {result.loss:.4f}, "
              f"top-1 {result.top1:.2f}%, top-5 {result.top5:.2f}%")
        for name, accuracy in zip(names, result.per_class_accuracy):
            print(f"  {name:>24}: {accuracy:6.2f}%")
        return 0

    parser.set_defaults(run=run)


def _add_predict(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("predict", help="top-k classes of images (files or a directory)")
    parser.add_argument("model", metavar="MODEL", help="a model directory or a training run directory")
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="image files or directories of images")
    parser.add_argument("--top-k", type=int, default=5)
    _add_backend_option(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")

    def run(args: argparse.Namespace) -> int:
        from googlenet.evaluation.predict import collect_images, load_model, predict

        model = _fast_model(load_model(args.model), args.backend, "predict")
        predictions, errors = predict(model, collect_images(args.images), top_k=args.top_k)
        for error in errors:
            print(f"googlenet predict: {error}", file=sys.stderr)
        if args.json:
            print(json.dumps([prediction.to_dict() for prediction in predictions], indent=2))
        else:
            for prediction in predictions:
                print(prediction.path)
                for entry in prediction.top_k:
                    print(f"  {entry['probability']:7.2%}  {entry['class_name']}")
        return 1 if errors else 0

    parser.set_defaults(run=run)


def _add_import_torchvision(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("import-torchvision",
                                 help="turn a torchvision googlenet checkpoint (.pth) into a model directory")
    parser.add_argument("checkpoint", metavar="PATH.pth",
                        help="torchvision's googlenet state_dict, e.g. its ImageNet googlenet-1378be20.pth")
    parser.add_argument("output_dir", metavar="OUT_DIR", help="the model directory to write")
    parser.add_argument("--aux-logits", action="store_true",
                        help="keep the aux heads (torchvision's ImageNet ones were never trained)")
    parser.add_argument("--no-transform-input", dest="transform_input", action="store_false",
                        help="for a torchvision googlenet trained without transform_input (not the ImageNet one)")

    def run(args: argparse.Namespace) -> int:
        from googlenet.weights.model_dir import import_torchvision

        directory = import_torchvision(args.checkpoint, args.output_dir, aux_logits=args.aux_logits,
                                       transform_input=args.transform_input)
        print(f"wrote {directory} (torchvision flavour; try: googlenet predict {directory} IMAGE)")
        return 0

    parser.set_defaults(run=run)


def _add_export(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("export", help="inference model for another runtime: ONNX, torch.export, TorchScript")
    parser.add_argument("model", metavar="MODEL_DIR", help="a model directory")
    parser.add_argument("--format", default="onnx",
                        help="onnx (default), exported-program (.pt2) or torchscript")
    parser.add_argument("--output", help="the file to write (default: model.onnx, model.pt2 or "
                                         "model.torchscript.pt in MODEL_DIR); its description goes to OUTPUT.json")

    def run(args: argparse.Namespace) -> int:
        from googlenet.weights.export import export_model, sidecar_path

        try:
            path = export_model(args.model, args.output, args.format)
        except ImportError as error:
            print(f"googlenet export: error: {error}", file=sys.stderr)
            return 2
        print(f"wrote {path} and {sidecar_path(path)}")
        return 0

    parser.set_defaults(run=run)


def _add_benchmark(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "benchmark", help="inference and training speed: torchvision's googlenet and our fast paths side by side",
        description="Time torchvision's googlenet (eager NCHW, eager channels_last, ONNX Runtime) and every fast "
        "path of ours on the same weights, inference and training, with the machine's fp32 matmul rate.",
    )
    add = parser.add_argument
    add("--batch-sizes", type=int, nargs="*", default=[1, 32],
        help="inference batch sizes (default: 1 32; none: no inference measurement)")
    add("--input-size", type=int, default=224, help="inference input side (default 224)")
    add("--train-sizes", type=int, nargs="*", default=[96, 224],
        help="training input sides (default: 96 224; none: no training measurement)")
    add("--train-batch-size", type=int, default=64, help="training batch size (default 64)")
    add("--backends", nargs="+", metavar="BACKEND",
        help="our fast paths to time: eager, compile, onnxruntime, openvino, int8 (default: every one installed)")
    add("--train-compile", action="store_true",
        help="also time our training step under torch.compile (minutes of compiling)")
    add("--repeats", type=int, default=10, help="timed repetitions per inference measurement (default 10)")
    add("--warmup", type=int, default=2, help="untimed calls before each measurement, at least 1 (default 2)")
    add("--train-repeats", type=int, default=5, help="timed steps per training measurement (default 5)")
    add("--threads", type=int, help="CPU threads (default: torch's default)")
    add("--matmul-size", type=int, default=4096, help="side of the reference fp32 matmul (default 4096)")
    add("--json", action="store_true", help="machine-readable output")

    def run(args: argparse.Namespace) -> int:
        from googlenet.inference.benchmark import BenchmarkConfig, format_report, run_benchmark

        config = BenchmarkConfig(
            batch_sizes=tuple(args.batch_sizes), input_size=args.input_size, train_sizes=tuple(args.train_sizes),
            train_batch_size=args.train_batch_size, backends=tuple(args.backends) if args.backends else None,
            train_compile=args.train_compile, repeats=args.repeats, warmup=args.warmup,
            train_repeats=args.train_repeats, threads=args.threads, matmul_size=args.matmul_size,
        )
        report = run_benchmark(config, progress=lambda line: print(f"... {line}", file=sys.stderr, flush=True))
        print(json.dumps(report.to_dict(), indent=2) if args.json else format_report(report))
        return 0

    parser.set_defaults(run=run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="googlenet", description="Inception v1 (GoogLeNet): build, inspect, train, run.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_summary(commands)
    _add_train(commands)
    _add_evaluate(commands)
    _add_predict(commands)
    _add_import_torchvision(commands)
    _add_export(commands)
    _add_benchmark(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"googlenet {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
