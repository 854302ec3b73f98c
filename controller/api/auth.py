"""Who may write: the bearer token guarding the API's mutating endpoints.

The token travels only in `Authorization: Bearer <token>` (RFC 6750, section 2.1). A query
parameter would land in access logs, proxy logs and browser history, and a bare token without
the scheme is what a misconfigured client sends by accident: both are refused as if absent.

Status codes: 401 with `WWW-Authenticate: Bearer` when the token is missing or wrong (sending
the right one helps); 403 when this daemon has no token configured, so writes are off and no
credential can help. Each refusal says how to set the token. The token is compared in constant
time and never echoed, logged or returned.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

# The variable that sets api.token: ControllerConfig reads FLEET_* with "__" between levels.
TOKEN_VARIABLE = "FLEET_API__TOKEN"

WRITES_DISABLED = (
    f"writes are disabled: this daemon has no API token; set {TOKEN_VARIABLE} (or api.token in "
    "the config file) and restart the daemon"
)
NOT_AUTHENTICATED = (
    "missing or wrong bearer token: send the header 'Authorization: Bearer <token>' with the "
    f"daemon's api.token (set through {TOKEN_VARIABLE}); the token is accepted in no other "
    "header or query parameter"
)

# auto_error=False: a missing header or another scheme comes back as None, so the refusal below
# carries our message and challenge. Declaring the scheme also gives /docs its Authorize button.
_bearer = HTTPBearer(auto_error=False, description=f"the daemon's api.token ({TOKEN_VARIABLE})")


class TokenGuard:
    """A FastAPI dependency: passes a request that presents the configured token, refuses others."""

    def __init__(self, token: str | None) -> None:
        self._token = token.encode() if token else None

    def __call__(
        self, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> None:
        if self._token is None:
            raise HTTPException(403, WRITES_DISABLED)
        presented = credentials.credentials.encode() if credentials else b""
        if not hmac.compare_digest(presented, self._token):
            raise HTTPException(401, NOT_AUTHENTICATED, headers={"WWW-Authenticate": "Bearer"})
