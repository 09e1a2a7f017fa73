"""The one error type the domain raises; the API turns it into Stripe's error fields."""


class BillingError(Exception):
    """A request the engine refuses, with Stripe's error fields.

    type: invalid_request_error | card_error | idempotency_error | authentication_error |
    permission_error | rate_limit_error | api_error. param is the camelCase input path at fault.
    """

    def __init__(self, message: str, *, code: str = "parameter_invalid",
                 type: str = "invalid_request_error", param: str | None = None,
                 decline_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.type = type
        self.param = param
        self.decline_code = decline_code


def invalid(message: str, param: str | None = None, code: str = "parameter_invalid") -> BillingError:
    return BillingError(message, code=code, param=param)


def missing_param(param: str, message: str | None = None) -> BillingError:
    return BillingError(message or f"Missing required param: {param}.", code="parameter_missing", param=param)


def not_found(kind: str, id: str, param: str = "id") -> BillingError:
    return BillingError(f"No such {kind}: '{id}'", code="resource_missing", param=param)
