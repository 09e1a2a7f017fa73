"""GraphQL errors as Stripe's error fields: extensions {code, type, param}.

BillingError keeps its message and fields. GraphQL syntax and validation errors are
invalid_request_error. Anything else is logged with the request id and reaches the client as a
bare api_error with no internals.
"""
import logging

from graphql import GraphQLError
from tortoise.exceptions import ValidationError

from app.billing.errors import BillingError

log = logging.getLogger("app.graphql")


def _with_extensions(error: GraphQLError, message: str, extensions: dict) -> GraphQLError:
    return GraphQLError(message, nodes=error.nodes, source=error.source, positions=error.positions,
                        path=error.path, original_error=None, extensions=extensions)


def format_error(error: GraphQLError, request_id: str) -> GraphQLError:
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    if isinstance(original, BillingError):
        extensions = {"code": original.code, "type": original.type, "param": original.param}
        if original.decline_code:
            extensions["declineCode"] = original.decline_code
        return _with_extensions(error, original.message, extensions)
    if original is None or isinstance(original, GraphQLError):  # syntax, validation, variable coercion
        code = (error.extensions or {}).get("code") or "graphql_invalid"
        return _with_extensions(error, error.message, {"code": code, "type": "invalid_request_error",
                                                       "param": None})
    if isinstance(original, ValidationError):
        # A filter value the ORM refuses to compare, such as a string longer than its column.
        return _with_extensions(error, "A value is longer than the field it is compared with allows.",
                                {"code": "parameter_invalid", "type": "invalid_request_error", "param": None})
    if isinstance(original, ValueError) and error.path is None:
        # A scalar that could not parse a variable (BigInt, DateTime, Decimal, ...).
        return _with_extensions(error, error.message, {"code": "parameter_invalid",
                                                       "type": "invalid_request_error", "param": None})
    log.error("unexpected error", exc_info=original, extra={"request_id": request_id})
    return _with_extensions(
        error, f"An unexpected error occurred. Request id: {request_id}.",
        {"code": "api_error", "type": "api_error", "param": None, "requestId": request_id},
    )
