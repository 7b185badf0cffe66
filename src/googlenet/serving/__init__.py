"""The model over HTTP: `googlenet serve` (FastAPI + uvicorn), dynamic batching, health, metrics, the page.

    app.py         the routes (API, page, health, metrics) and the JSON errors
    service.py     the model behind them: fast path + batcher for predictions, the model for explanations
    batching.py    dynamic batching of concurrent requests
    inputs.py      a request's images and options, checked (sizes, pixels per request, formats, bombs)
    limits.py      the request-body limit; metrics.py: Prometheus metrics
    page_data.py   the page's examples (the model's evaluation data) and Table 1
    static/        the page: hand-written HTML, JS and CSS, served as they are (no CDN, no build step)

Layer: the top of the library, below the command line only (`googlenet serve` is cli/serve.py); may
import every layer beneath (inference for the fast path, explain for Grad-CAM). fastapi, uvicorn, captum
and prometheus_client come with the `serve` extra: pip install -e '.[serve]' in a clone.
"""
