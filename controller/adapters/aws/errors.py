"""botocore's exceptions as the controller's typed errors (kopf's Temporary/Permanent split).

- throttling, 5xx, time-outs, connection failures -> TemporaryError: the next check retries;
- missing permissions, bad or missing credentials, bad requests -> PermanentError, naming the
  operation so a person knows which IAM action to grant;
- an operation the endpoint does not implement (an emulator, a partition without the feature)
  is recognised by `unavailable_reason` so a caller can report "unknown" instead of failing.
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from controller.domain.errors import FleetError, PermanentError, TemporaryError

THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "PriorRequestNotComplete",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
    }
)
DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "AuthFailure",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidSignatureException",
        "MissingAuthenticationToken",
        "OptInRequired",
    }
)
UNIMPLEMENTED = frozenset(
    {"UnknownOperationException", "InvalidAction", "NotImplemented", "UnsupportedOperation"}
)
AWS_ERRORS = (ClientError, BotoCoreError, ResponseParserError)
"""everything a boto3 call raises for a failed request (ResponseParserError is not a
BotoCoreError: an endpoint that answers with something other than the API)"""
TRANSIENT_TRANSPORT = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def translate(exc: BaseException, operation: str) -> FleetError:
    """The typed error for a failed call of `operation` (e.g. 'autoscaling:DescribePolicies')."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message", "")).strip()
        said = f"{code}: {message}" if message else code
        if code in THROTTLED or _status(exc) >= 500:
            return TemporaryError(f"AWS {operation} failed ({said}); will retry")
        if code in DENIED or _status(exc) in (401, 403):
            return PermanentError(
                f"AWS {operation} was refused ({said}): grant the controller's role "
                f"the IAM action {operation}, or check its credentials"
            )
        return PermanentError(f"AWS {operation} failed ({said})")
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return PermanentError(
            f"AWS {operation}: no usable AWS credentials ({exc}); provide them through the "
            "environment, a shared profile or an instance/task role (never in controller.yaml)"
        )
    if isinstance(exc, NoRegionError):
        return PermanentError(f"AWS {operation}: no region ({exc})")
    if isinstance(exc, TRANSIENT_TRANSPORT):
        return TemporaryError(f"AWS {operation}: cannot reach the endpoint ({exc}); will retry")
    if isinstance(exc, ResponseParserError):
        return TemporaryError(f"AWS {operation}: unreadable response ({_first_line(exc)})")
    if isinstance(exc, BotoCoreError):
        return PermanentError(f"AWS {operation}: {exc}")
    return PermanentError(f"AWS {operation}: {exc!r}")


def unavailable_reason(exc: BaseException) -> str | None:
    """Why the endpoint does not offer this operation at all, or None if it does.

    AWS answers an unknown action with UnknownOperationException / InvalidAction (HTTP 400 or
    501); moto's server answers an unimplemented action with a 500 HTML page that botocore cannot
    parse. Both mean "this API is not available here", not "the request failed".
    """
    if isinstance(exc, ClientError):
        code = error_code(exc)
        if code in UNIMPLEMENTED or _status(exc) == 501:
            return f"{code or 'HTTP 501'}: the endpoint does not implement it"
        return None
    if isinstance(exc, ResponseParserError) and "<html" in str(exc).lower():
        return "the endpoint answered with an HTML error page, not the API (not implemented)"
    return None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
