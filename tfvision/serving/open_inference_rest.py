"""The Open Inference Protocol's (KServe v2) REST routes, beside TF Serving's on one app.

- `GET /v2/health/live`, `GET /v2/health/ready`: 200 with an empty body.
- `GET /v2`: the server's metadata (`name`, `version`, `extensions`).
- `GET /v2/models/<m>[/versions/<v>]/ready`: 200 when that model (version) is loaded, 404
  with the protocol's error body when it is not.
- `GET /v2/models/<m>[/versions/<v>]`: the model's metadata from its signature.
- `POST /v2/models/<m>[/versions/<v>]/infer`: typed tensors in, typed tensors out.

Errors answer `{"error": "…"}` with a 4xx, as the protocol says.
"""

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

import tfvision
from tfvision.serving.open_inference import (
    SERVER_NAME,
    infer_json_reply,
    model_metadata,
    parse_infer_json,
    run_infer,
)


def infer_reply(served, body):
    """Parses and runs one v2 infer body (a worker thread calls it): the reply's JSON."""
    request_id, inputs, requested = parse_infer_json(body)
    return infer_json_reply(served, request_id, run_infer(served, inputs, requested))


def add_open_inference_routes(app, repository, read_json):
    """Adds the v2 routes to `app`.

    Args:
        app: the `fastapi.FastAPI` app of `tfvision.serving.rest_server.create_app`.
        repository: a `ModelRepository`.
        read_json: `async (request) -> body`, reading the request body within the server's
            size limit and parsing its JSON (refusing either with a `ServingError`).
    """

    @app.get("/v2/health/live")
    async def live():
        return Response(status_code=200)

    @app.get("/v2/health/ready")
    async def ready():
        # Every model is loaded before the server starts listening.
        return Response(status_code=200)

    @app.get("/v2")
    async def server_metadata():
        return {"name": SERVER_NAME, "version": tfvision.__version__, "extensions": []}

    @app.get("/v2/models/{model_name}/ready")
    async def model_ready(model_name: str):
        repository.get(model_name)
        return Response(status_code=200)

    @app.get("/v2/models/{model_name}/versions/{version}/ready")
    async def model_version_ready(model_name: str, version: str):
        repository.get(model_name, version)
        return Response(status_code=200)

    @app.get("/v2/models/{model_name}")
    async def metadata(model_name: str):
        return model_metadata(repository.versions(model_name), repository.get(model_name))

    @app.get("/v2/models/{model_name}/versions/{version}")
    async def version_metadata(model_name: str, version: str):
        return model_metadata(repository.versions(model_name),
                              repository.get(model_name, version))

    async def infer(request, model_name, version=None):
        served = repository.get(model_name, version)
        body = await read_json(request)
        reply = await run_in_threadpool(infer_reply, served, body)
        return JSONResponse(reply)

    @app.post("/v2/models/{model_name}/infer")
    async def infer_latest(request: Request, model_name: str):
        return await infer(request, model_name)

    @app.post("/v2/models/{model_name}/versions/{version}/infer")
    async def infer_version(request: Request, model_name: str, version: str):
        return await infer(request, model_name, version)
