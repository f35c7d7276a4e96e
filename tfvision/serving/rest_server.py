"""TF Serving's REST API (`/v1/models/…`) over a `ModelRepository`, as a FastAPI app,
with the Open Inference Protocol's (`/v2/…`, `tfvision.serving.open_inference_rest`).

Routes, as TF Serving answers them:

- `POST /v1/models/<name>[/versions/<v>]:predict`: row (`instances`) or
  columnar (`inputs`) bodies; replies `predictions` / `outputs`.
- `GET /v1/models/<name>[/versions/<v>]`: `{"model_version_status": […]}`.
- `GET /v1/models/<name>[/versions/<v>]/metadata`: `{"model_spec": …,
  "metadata": {"signature_def": …}}`.

Every refusal is a 4xx with `{"error": "…"}`; the model runs in a worker
thread so one slow request does not block the others. `GET /monitoring/prometheus/metrics`
gives the server's metrics (`tfvision.serving.metrics`).
"""

import json
import time

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from tfvision.serving.errors import InvalidArgument, PayloadTooLarge, ServingError
from tfvision.serving.model_protos import (
    metadata_json,
    metadata_response,
    status_response,
    to_json,
)
from tfvision.serving.metrics import rest_request_labels
from tfvision.serving.open_inference_rest import add_open_inference_routes
from tfvision.serving.rest_json import format_predict_reply, parse_predict_body

# TF Serving's gRPC default message limit; REST bodies above it get a 413.
DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024


def error_reply(status, message):
    return JSONResponse({"error": message}, status_code=status)


async def read_body(request, limit):
    """The request body, refused with `PayloadTooLarge` past `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body has {declared} bytes; the limit is {limit}.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw):
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise InvalidArgument(f"The body is not valid JSON: {error}") from None


def predict_reply(served, raw):
    """Parses and runs one `:predict` body; returns the encoded JSON reply.

    NaN and infinities are written as TF Serving writes them (`NaN`,
    `Infinity`), not refused.
    """
    body = parse_json(raw)
    input_specs, _ = served.signature(body.get("signature_name") if isinstance(body, dict) else None)
    signature_name, inputs, body_format = parse_predict_body(body, input_specs)
    outputs = served.predict(signature_name, inputs)
    return json.dumps(format_predict_reply(outputs, body_format)).encode("utf-8")


def create_app(repository, max_request_bytes=DEFAULT_MAX_REQUEST_BYTES):
    """The FastAPI app serving every model of `repository` with TF Serving's routes.

    Args:
        repository: a `ModelRepository`.
        max_request_bytes: int. Largest accepted body. Defaults to 64 MiB.

    Returns:
        A `fastapi.FastAPI` application.

    Example (it serves until stopped, so the test suite does not run it):
    >>> app = create_app(ModelRepository("saved_models"))  # doctest: +SKIP
    >>> uvicorn.run(app, port=8501)  # doctest: +SKIP
    """
    app = FastAPI(title="tfvision model server", docs_url=None, redoc_url=None,
                  openapi_url=None)

    metrics = repository.metrics

    @app.middleware("http")
    async def count_requests(request, call_next):
        start = time.perf_counter()
        response = await call_next(request)
        labels = rest_request_labels(request.url.path)
        if labels is not None:
            metrics.observe_request(*labels, "rest", response.status_code,
                                    time.perf_counter() - start)
        return response

    @app.get("/monitoring/prometheus/metrics")
    async def prometheus_metrics():
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)

    @app.exception_handler(ServingError)
    async def serving_error(request, error):
        return error_reply(error.http_status, str(error))

    @app.exception_handler(HTTPException)
    async def http_error(request, error):
        detail = error.detail if error.status_code != 404 else (
            f"Malformed request: {request.method} {request.url.path}")
        return error_reply(error.status_code, detail)

    async def predict(request, model_name, version=None):
        served = repository.get(model_name, version)
        raw = await read_body(request, max_request_bytes)
        # Decoding, the model and encoding run in a worker thread, off the event loop.
        reply = await run_in_threadpool(predict_reply, served, raw)
        return Response(reply, media_type="application/json")

    @app.post("/v1/models/{model_name}:predict")
    async def predict_latest(request: Request, model_name: str):
        return await predict(request, model_name)

    @app.post("/v1/models/{model_name}/versions/{version}:predict")
    async def predict_version(request: Request, model_name: str, version: str):
        return await predict(request, model_name, version)

    def status(model_name, version=None):
        versions = repository.versions(model_name)
        chosen = versions.values() if version is None else [repository.get(model_name, version)]
        return to_json(status_response(chosen))

    @app.get("/v1/models/{model_name}")
    async def status_all(model_name: str):
        return status(model_name)

    @app.get("/v1/models/{model_name}/versions/{version}")
    async def status_version(model_name: str, version: str):
        return status(model_name, version)

    @app.get("/v1/models/{model_name}/metadata")
    async def metadata_latest(model_name: str):
        return metadata_json(metadata_response(repository.get(model_name)))

    @app.get("/v1/models/{model_name}/versions/{version}/metadata")
    async def metadata_version(model_name: str, version: str):
        return metadata_json(metadata_response(repository.get(model_name, version)))

    async def read_json(request):
        return parse_json(await read_body(request, max_request_bytes))

    add_open_inference_routes(app, repository, read_json)
    return app
