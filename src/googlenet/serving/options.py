"""What `googlenet serve` can be told: the backend, batching and the request limits (standard library only,
so that the command line can show them without importing the server)."""

from __future__ import annotations

from dataclasses import dataclass

SERVE_BACKENDS = ("auto", "eager", "onnxruntime", "openvino", "int8")


@dataclass
class ServeOptions:
    backend: str = "auto"  # one of SERVE_BACKENDS: googlenet.optimize's backends, or the int8 model
    max_batch: int = 32  # images per model call at most
    max_wait_ms: float = 5.0  # how long the first image of a batch waits for others
    max_body_bytes: int = 20 * 2**20  # a request body over this is refused (413)
    max_pixels: int = 40_000_000  # an image over this many pixels is refused before decoding (413)
    # A request whose images hold more pixels together is refused before decoding (413): 64 images of
    # 40 Mpx each would otherwise fit in a 20 MiB body of flat PNGs, gigabytes once decoded.
    max_request_pixels: int = 64_000_000
    max_decoding: int = 4  # requests decoding their images at once; the others wait their turn
    max_images: int = 64  # images in one request at most
    warm_up: bool = True  # run the fast path and an explanation once before saying ready

    def check(self) -> None:
        if self.backend not in SERVE_BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; choose one of: {', '.join(SERVE_BACKENDS)}")
        for name in ("max_batch", "max_body_bytes", "max_pixels", "max_request_pixels", "max_decoding", "max_images"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.max_wait_ms < 0:
            raise ValueError(f"max-wait-ms must be 0 or more, got {self.max_wait_ms}")
