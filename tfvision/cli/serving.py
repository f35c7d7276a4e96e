"""`tfvision serve`, `tfvision serving-config` and `tfvision client predict`."""

import json

import numpy as np


def add_commands(commands):
    serve = commands.add_parser(
        "serve",
        help="serve a saved_models/ folder with TF Serving's REST (and gRPC) API",
        description="Hosts every model and version of ROOT/<name>/<version>/ (requests without "
        "a version go to the highest). Ctrl-C or SIGTERM stops it.",
    )
    serve.add_argument("root", help="model root, for example saved_models")
    serve.add_argument("--port", type=int, default=8501, help="REST port (default 8501)")
    serve.add_argument("--grpc-port", type=int, help="gRPC port (TF Serving uses 8500); off if unset")
    serve.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    serve.add_argument("--max-request-bytes", type=int, default=64 * 1024 * 1024,
                       help="largest request body (default 64 MiB)")
    serve.set_defaults(run=run_serve)

    config = commands.add_parser(
        "serving-config",
        help="write models.config and batching_parameters.txt for TF Serving",
        description="Writes ROOT/models.config (model_config_list of every model folder) and "
        "ROOT/batching_parameters.txt.",
    )
    config.add_argument("root", help="model root, for example saved_models")
    config.add_argument("--base-path", default="/models",
                        help="where TF Serving sees ROOT (default /models, Docker's mount)")
    config.add_argument("--version-policy", choices=("all", "latest"), default="all",
                        help="serve every version (default) or only the latest")
    config.set_defaults(run=run_serving_config)

    client = commands.add_parser("client", help="query a TF Serving (or tfvision serve) server")
    actions = client.add_subparsers(dest="action", required=True, metavar="ACTION")
    predict = actions.add_parser("predict", help="send images, print classes / boxes")
    predict.add_argument("url", help="http://host:8501 (REST) or host:8500 with --transport grpc")
    predict.add_argument("images", nargs="+", help="image files")
    predict.add_argument("--model", required=True, help="model name")
    predict.add_argument("--version", type=int, help="model version (default: highest)")
    predict.add_argument(
        "--protocol", choices=("tfserving", "v2", "rest", "grpc"), default="tfserving",
        help="tfserving: TF Serving's predict API (default); v2: the Open Inference Protocol "
        "(KServe, Triton); rest / grpc: TF Serving's API over that transport (the former "
        "spelling of --transport)")
    predict.add_argument("--transport", choices=("rest", "grpc"), default="rest",
                         help="REST (default) or gRPC")
    predict.add_argument("--signature-name", default="serving_default",
                         help="TF Serving's API only; v2 runs serving_default")
    predict.add_argument("--json", action="store_true", help="print every output as JSON")
    predict.set_defaults(run=run_client_predict)


def run_serve(args):
    from tfvision.serving.server import serve

    return serve(args.root, host=args.host, port=args.port, grpc_port=args.grpc_port,
                 max_request_bytes=args.max_request_bytes)


def run_serving_config(args):
    from tfvision.export.model_config import write_model_config

    for path in write_model_config(args.root, args.base_path, args.version_policy):
        print(f"Wrote {path}")


def run_client_predict(args):
    from tfvision.serving.client import Client, ServingRequestError

    transport = args.protocol if args.protocol in ("rest", "grpc") else args.transport
    try:
        if args.protocol == "v2":
            from tfvision.serving.open_inference_client import OpenInferenceClient

            client = OpenInferenceClient(args.url, transport=transport)
            outputs = client.predict(args.model, args.images, args.version)
        else:
            client = Client(args.url, protocol=transport)
            outputs = client.predict(args.model, args.images, args.signature_name, args.version)
    except ServingRequestError as error:
        raise RuntimeError(f"the server refused the request: {error}") from None
    for line in describe_outputs(outputs, args.images, as_json=args.json):
        print(line)


def _text(value):
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def describe_outputs(outputs, names, as_json=False):
    """Lines describing each image's result: top classes, detections, or all outputs."""
    if as_json:
        return [json.dumps({k: np.vectorize(_text, otypes=[object])(v).tolist()
                            if v.dtype == object else v.tolist() for k, v in outputs.items()})]
    lines = []
    labels = outputs.get("class_names", outputs.get("classes"))
    for i, name in enumerate(names):
        if "boxes" in outputs:
            count = int(outputs["num_detections"][i]) if "num_detections" in outputs else \
                len(outputs["boxes"][i])
            lines.append(f"{name}: {count} detections")
            for j in range(count):
                label = _text(labels[i][j]) if labels is not None else ""
                box = ", ".join(f"{c:.3f}" for c in outputs["boxes"][i][j])
                lines.append(f"  {label} {outputs['scores'][i][j]:.3f} [{box}]")
        elif labels is not None and "scores" in outputs:
            pairs = (f"{_text(c)} {s:.3f}" for c, s in zip(labels[i], outputs["scores"][i]))
            lines.append(f"{name}: " + ", ".join(pairs))
        else:
            shapes = ", ".join(f"{k} {list(v[i].shape)}" for k, v in outputs.items())
            lines.append(f"{name}: {shapes}")
    return lines
