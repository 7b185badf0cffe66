"""The HTTP service: the API, the page, health and metrics, on FastAPI (Starlette).

    GET  /                   the page (static files in googlenet/serving/static, no CDN, no build step)
    POST /v1/predict         top-k classes of one or several images (multipart, JSON base64, or raw bytes)
    POST /v1/explain         Grad-CAM and the branch shares of one image (what the page draws)
    GET  /v1/model           flavour, classes, preprocessing, backend, limits
    GET  /v1/examples        a few images of the model's own evaluation data (GET /v1/examples/N.png)
    GET  /v1/architecture    Table 1 measured on the network, and the naive-versus-reduced comparison
    GET  /v1/channels/UNIT   a branch's channels: feature visualisations and dataset examples (channels.py)
    GET  /health             200 once the model is loaded and warmed up, 503 before (or if that failed)
    GET  /metrics            Prometheus text: requests by route and status, latency, batch sizes

Every error is JSON, {"error": "<what is wrong>", "status": <code>}, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from googlenet.evaluation.model_source import ModelSource
from googlenet.models.network import GoogLeNet
from googlenet.serving.channels import add_channel_routes
from googlenet.serving.inputs import RequestProblem, decode_images, parse_request, whole_number
from googlenet.serving.limits import BodyTooLarge, BodyLimitMiddleware
from googlenet.serving.metrics import MetricsMiddleware, ServerMetrics
from googlenet.serving.options import ServeOptions
from googlenet.serving.service import ModelService

log = logging.getLogger("googlenet.serve")

STATIC = resources.files("googlenet.serving") / "static"
ROUTES = ("GET /", "POST /v1/predict", "POST /v1/explain", "GET /v1/model", "GET /v1/examples",
          "GET /v1/architecture", "GET /v1/channels/{module}.{branch}", "GET /health", "GET /metrics")


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


def create_app(model: GoogLeNet, *, name: str = "model", options: ServeOptions | None = None,
               source: ModelSource | None = None) -> FastAPI:
    """The service for `model` (a GoogLeNet, with its class names and preprocessing). `source`: where it
    came from (`find_model`), whose run's data gives the page's examples and the int8 calibration images
    (None: unknown)."""
    metrics = ServerMetrics()
    service = ModelService(model, name, options or ServeOptions(), metrics, source)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        task = asyncio.get_running_loop().create_task(service.start())
        yield
        if not task.done():  # a shutdown (Ctrl-C) while the fast path is being built stops without waiting
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await service.stop()  # drains the batcher

    app = FastAPI(title="googlenet", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service
    _add_error_handlers(app)
    _add_api_routes(app, service)
    add_channel_routes(app, service)
    _add_page_routes(app, service, metrics)
    app.add_middleware(BodyLimitMiddleware, max_bytes=service.options.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestProblem)
    async def refused(_request: Request, problem: RequestProblem) -> JSONResponse:
        return error_response(problem.status, problem.message)

    @app.exception_handler(BodyTooLarge)
    async def too_large(_request: Request, problem: BodyTooLarge) -> JSONResponse:
        return error_response(413, str(problem))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        if error.status_code == 404:
            message = f"no such route: {request.method} {request.url.path}; the routes: {', '.join(ROUTES)}"
        elif error.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; the routes: {', '.join(ROUTES)}"
        else:
            message = str(error.detail)
        return error_response(error.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, item['loc']))}: {item['msg']}" for item in error.errors())
        return error_response(422, problems)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=error)
        return error_response(500, "internal error while answering this request (the server's log has the details)")


def _ready(service: ModelService) -> None:
    if service.state != "ready":
        why = f": {service.problem}" if service.problem else "; try again in a moment (GET /health)"
        raise RequestProblem(503, f"the model is {service.state}{why}")


async def _images(request: Request, service: ModelService, decoding: asyncio.Semaphore) -> tuple[Any, list[Any]]:
    _ready(service)
    options = service.options
    parsed = await parse_request(request, options.max_images)
    async with decoding:  # bounds the memory of decoded pixels: max_decoding requests x max_request_pixels
        decoded = await run_in_threadpool(
            decode_images, parsed.images, service.model.in_chans, service.preprocessing, service.transform,
            options.max_pixels, options.max_request_pixels)
    return parsed, decoded


def _add_api_routes(app: FastAPI, service: ModelService) -> None:
    decoding = asyncio.Semaphore(service.options.max_decoding)

    @app.post("/v1/predict")
    async def predict(request: Request) -> dict[str, Any]:
        started = time.perf_counter()
        parsed, decoded = await _images(request, service, decoding)
        top_k = whole_number(parsed.fields, "top_k", min(5, service.model.num_classes), 1, service.model.num_classes)
        answers = await service.classify([image.tensor for image in decoded], top_k)
        return {
            "model": service.name, "backend": getattr(service.fast, "backend", None),
            "predictions": [{"image": upload.name, "top_k": top, "warnings": image.warnings}
                            for upload, image, top in zip(parsed.images, decoded, answers)],
            "time_ms": round((time.perf_counter() - started) * 1000, 2),
        }

    @app.post("/v1/explain")
    async def explain(request: Request) -> dict[str, Any]:
        parsed, decoded = await _images(request, service, decoding)
        if len(decoded) != 1:
            raise RequestProblem(422, f"explain takes one image, got {len(decoded)}")
        class_index = None
        if parsed.fields.get("class") not in (None, ""):
            chosen = parsed.fields["class"]
            if chosen not in service.class_names:
                raise RequestProblem(422, f"unknown class {chosen!r}; this model's classes: "
                                     f"{', '.join(service.class_names)}")
            class_index = service.class_names.index(chosen)
        layer = parsed.fields.get("layer") or None
        try:
            answer = await run_in_threadpool(service.explain, decoded[0].tensor, class_index, layer)
            return {**answer, "warnings": decoded[0].warnings}
        except ValueError as error:  # an unknown layer, named with the choices
            raise RequestProblem(422, str(error)) from None

    @app.get("/v1/model")
    async def describe() -> dict[str, Any]:
        return service.describe()

    @app.get("/v1/examples")
    async def examples() -> dict[str, Any]:
        return (await run_in_threadpool(service.examples)).to_dict()

    @app.get("/v1/examples/{number}.png")
    async def example_image(number: int) -> Response:
        items = (await run_in_threadpool(service.examples)).items
        if not 0 <= number < len(items):
            raise RequestProblem(404, f"no example {number}: there are {len(items)} (GET /v1/examples)")
        return Response(items[number].png, media_type="image/png")

    @app.get("/v1/architecture")
    async def network() -> dict[str, Any]:
        return await run_in_threadpool(service.architecture)


def _add_page_routes(app: FastAPI, service: ModelService, metrics: ServerMetrics) -> None:
    @app.get("/health")
    async def health() -> JSONResponse:
        body = {"status": service.state, "model": service.name}
        if service.problem:
            body["problem"] = service.problem
        return JSONResponse(body, status_code=200 if service.state == "ready" else 503)

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.get("/")
    async def page() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
