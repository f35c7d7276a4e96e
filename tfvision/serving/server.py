"""`tfvision serve`: REST (TF Serving's API) and gRPC over one model root."""

import signal
import sys

import uvicorn

from tfvision.serving.grpc_service import create_grpc_server
from tfvision.serving.repository import ModelRepository
from tfvision.serving.rest_server import DEFAULT_MAX_REQUEST_BYTES, create_app


def serve(root, host="127.0.0.1", port=8501, grpc_port=None,
          max_request_bytes=DEFAULT_MAX_REQUEST_BYTES, log_level="warning"):
    """Serves every model and version under `root` until Ctrl-C or SIGTERM.

    Models are loaded with plain `tf.saved_model.load` (no tfvision model
    code), all versions of each; requests without a version go to the
    highest. REST is served by uvicorn (FastAPI), gRPC by grpcio, both over
    the same loaded models. Ctrl-C or SIGTERM stops both: in-flight requests
    finish, then the function returns.

    Args:
        root: str. A TF Serving model root (`root/<name>/<version>/`).
        host: str. Interface to bind. Defaults to `"127.0.0.1"`.
        port: int. REST port. Defaults to `8501`.
        grpc_port: int or None. gRPC port; None for no gRPC. Defaults to `None`.
        max_request_bytes: int. Largest REST body / gRPC message. Defaults to 64 MiB.
        log_level: str. uvicorn's log level. Defaults to `"warning"`.

    Returns:
        0 once stopped.

    Example (it serves until stopped, so the test suite does not run it):
    >>> serve("saved_models", port=8501, grpc_port=8500)  # doctest: +SKIP
    """
    repository = ModelRepository(root)
    grpc_server = None
    if grpc_port is not None:
        grpc_server, grpc_port = create_grpc_server(
            repository, f"{host}:{grpc_port}", max_request_bytes)
        grpc_server.start()
    for name, versions in repository.models.items():
        print(f"Serving {name} versions {sorted(versions)}", flush=True)
    where = f"REST on http://{host}:{port}" + (f", gRPC on {host}:{grpc_port}" if grpc_server else "")
    print(f"{where}. Ctrl-C or SIGTERM stops.", flush=True)

    # uvicorn handles SIGINT / SIGTERM while serving, then re-raises the signal
    # to the handler that was installed before it: make that one a no-op so a
    # graceful stop exits with status 0 instead of being killed by the signal.
    previous = {s: signal.signal(s, lambda *_: None) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        app = create_app(repository, max_request_bytes)
        config = uvicorn.Config(app, host=host, port=port, log_level=log_level,
                                timeout_graceful_shutdown=5, access_log=False)
        server = uvicorn.Server(config)
        server.run()
        if not server.started:
            raise OSError(f"Could not start the REST server on {host}:{port}.")
    finally:
        if grpc_server is not None:
            grpc_server.stop(grace=2).wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("Server stopped.", file=sys.stderr, flush=True)
    return 0
