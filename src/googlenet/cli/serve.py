"""`googlenet serve MODEL`: the prediction service and its page, on uvicorn.

uvicorn handles SIGTERM and Ctrl-C: it stops accepting connections, lets the requests in flight finish
(up to GRACEFUL_SECONDS), then the app's shutdown drains the batcher. It then raises the signal again, for
the handler it found: the command line's, so serve ends as every command does, with 143 after SIGTERM
and 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from googlenet.cli.common import EXIT_INTERRUPTED, EXIT_TERMINATED, Terminated, add_model_argument
from googlenet.serving.options import SERVE_BACKENDS, ServeOptions

HELP = "serve the model over HTTP: a prediction API with dynamic batching, health, metrics, and an explorer page"
DESCRIPTION = ("Serve MODEL (a run or model directory) on HOST:PORT: POST /v1/predict (multipart or JSON base64), "
               "GET /v1/model, GET /health, GET /metrics, and at / a page that shows the classes, Grad-CAM and "
               "what each Inception module's branches did with your image. Binds 127.0.0.1 unless told otherwise.")
GRACEFUL_SECONDS = 30


def configure(parser: argparse.ArgumentParser) -> None:
    defaults = ServeOptions()
    add_model_argument(parser)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on; 0.0.0.0 opens the service to the network")
    parser.add_argument("--port", type=int, default=8000, help="TCP port")
    parser.add_argument("--backend", choices=SERVE_BACKENDS, default=defaults.backend,
                        help="the fast path predictions run on: auto (the fastest installed, measured at start), "
                        "eager, onnxruntime, openvino (googlenet.optimize), or int8 (googlenet.quantize: the faster "
                        "installed int8 runtime, ONNX Runtime or OpenVINO, measured at start; calibrated on 512 of "
                        "the run's training images)")
    parser.add_argument("--max-batch", type=int, default=defaults.max_batch,
                        help="images per model call at most (1: no batching)")
    parser.add_argument("--max-wait-ms", type=float, default=defaults.max_wait_ms,
                        help="how long the first image of a batch waits for others")
    parser.add_argument("--max-body-mb", type=float, default=defaults.max_body_bytes / 2**20,
                        help="request bodies over this many MiB are refused (413)")
    parser.add_argument("--max-pixels", type=int, default=defaults.max_pixels,
                        help="images over this many pixels are refused from their header, before decoding (413)")
    parser.add_argument("--max-request-pixels", type=int, default=defaults.max_request_pixels,
                        help="requests whose images hold more pixels together are refused from their headers, "
                        "before any is decoded (413)")
    parser.add_argument("--max-decoding", type=int, default=defaults.max_decoding, metavar="N",
                        help="requests decoding their images at once; the others wait their turn (with "
                        "--max-request-pixels, this bounds the memory decoded images take)")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"),
                        help="how much the server logs (uvicorn and googlenet)")


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from googlenet.evaluation.model_source import find_model
    from googlenet.serving.app import create_app
    from googlenet.serving.service import model_name
    from googlenet.weights.model_dir import from_pretrained

    options = ServeOptions(backend=args.backend, max_batch=args.max_batch, max_wait_ms=args.max_wait_ms,
                           max_body_bytes=int(args.max_body_mb * 2**20), max_pixels=args.max_pixels,
                           max_request_pixels=args.max_request_pixels, max_decoding=args.max_decoding)
    options.check()
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be from 0 to 65535, got {args.port}")
    source = find_model(args.model)
    model = from_pretrained(source.model_dir)
    app = create_app(model, name=model_name(source.model_dir, source.run_dir), options=options, source=source)
    configure_logging(args.log_level)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level,
                            timeout_graceful_shutdown=GRACEFUL_SECONDS, access_log=False)
    server = uvicorn.Server(config)
    print(f"googlenet serve: {source.describe()} on http://{args.host}:{args.port}/ "
          f"(backend {args.backend}, max batch {args.max_batch}, max wait {args.max_wait_ms:g} ms); "
          "GET /health says when it is ready", file=sys.stderr, flush=True)
    stopped_by: BaseException | None = None
    try:
        server.run()
    except BaseException as stop:
        stopped_by = stop
        raise
    finally:
        if app.state.service.busy:
            # Stopped while the fast path is being built: that thread is inside torch or ONNX code, and an
            # interpreter shutting down under it aborts in their C++ destructors. Nothing is left to save.
            print("googlenet serve: stopped while building the fast path", file=sys.stderr, flush=True)
            os._exit(EXIT_TERMINATED if isinstance(stopped_by, Terminated) else EXIT_INTERRUPTED)
    return 0


def _own(record: logging.LogRecord) -> bool:
    return record.name == "googlenet" or record.name.startswith("googlenet.")


def configure_logging(level: str) -> list[logging.Handler]:
    """The server's log on stderr: googlenet's own records as "googlenet serve: ..." at `level`; other
    libraries' records (onnxscript's "No unused functions to remove", matplotlib's font cache, ...) under
    their own name, and only their warnings and errors unless `level` is debug. uvicorn logs through its
    own handlers. Returns the two handlers added to the root logger."""
    debug = level.lower() == "debug"
    own = logging.StreamHandler(sys.stderr)
    own.setFormatter(logging.Formatter("googlenet serve: %(message)s"))
    own.addFilter(_own)
    others = logging.StreamHandler(sys.stderr)
    others.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))
    others.addFilter(lambda record: not _own(record))
    others.setLevel(logging.DEBUG if debug else logging.WARNING)
    root = logging.getLogger()
    root.addHandler(own)
    root.addHandler(others)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    logging.getLogger("googlenet").setLevel(level.upper())
    return [own, others]
