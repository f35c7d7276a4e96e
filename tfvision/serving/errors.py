"""Serving errors: one exception per kind, each with its HTTP and gRPC status."""

import grpc


class ServingError(Exception):
    """A request the server refuses; the message says what was received.

    Attributes:
        http_status: int. The REST status code (4xx).
        grpc_code: `grpc.StatusCode`. The gRPC status.
    """

    http_status = 400
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class InvalidArgument(ServingError):
    """Malformed body, wrong dtype or shape, bad base64, undecodable image."""


class NotFound(ServingError):
    """Unknown model, version or signature."""

    http_status = 404
    grpc_code = grpc.StatusCode.NOT_FOUND


class PayloadTooLarge(ServingError):
    """A request body above the server's limit."""

    http_status = 413
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED


def abort_on_error(method):
    """Wraps a gRPC servicer method: a `ServingError` aborts the call with its status."""

    def wrapped(self, request, context):
        try:
            return method(self, request, context)
        except ServingError as error:
            context.abort(error.grpc_code, str(error))

    wrapped.__name__ = method.__name__
    return wrapped
