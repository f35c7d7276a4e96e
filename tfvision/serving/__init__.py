"""Local model server speaking TF Serving's REST and gRPC APIs and the Open Inference
Protocol (KServe v2), and their clients.

- `serve(root, port=8501, grpc_port=8500)`: hosts every model and version of
  a TF Serving model root (`root/<name>/<version>/`), loaded with plain
  `tf.saved_model.load`.
- `Client(url, protocol="rest" | "grpc")`: `predict`, `status`, `metadata`
  against this server or TF Serving itself.
- `OpenInferenceClient(url, transport="rest" | "grpc")`: `predict`, `ready`, `metadata`
  against any v2 server (this one, KServe, Triton, OpenVINO Model Server).
"""

from tfvision.serving.client import Client, ServingRequestError


def __getattr__(name):
    # Imported on use, as `serve`: the v2 client's datatypes import TensorFlow.
    if name == "OpenInferenceClient":
        from tfvision.serving.open_inference_client import OpenInferenceClient

        return OpenInferenceClient
    raise AttributeError(f"module 'tfvision.serving' has no attribute {name!r}")


def serve(*args, **kwargs):
    """See `tfvision.serving.server.serve` (imported on use: it needs uvicorn)."""
    from tfvision.serving.server import serve as run

    return run(*args, **kwargs)


__all__ = ["Client", "OpenInferenceClient", "ServingRequestError", "serve"]
