"""The one way the gateway's sign-in layer refuses an HTTP request: a status, a stable error code, a
message for people, and headers (Retry-After, WWW-Authenticate), answered in the API's error body."""

from __future__ import annotations

from fastapi.responses import JSONResponse

GENERIC_AUTH_FAILURE = "authentication failed"


class Refusal(Exception):
    """Ends a request with an error response (`{"error": {"code", "message"}}`)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        """The error response."""
        body = {"error": {"code": self.code, "message": self.message}}
        return JSONResponse(status_code=self.status, content=body, headers=self.headers)


def unauthorized() -> Refusal:
    """401 with one generic message: the precise reason is for logs only."""
    return Refusal(401, "auth_failed", GENERIC_AUTH_FAILURE, {"WWW-Authenticate": "Bearer"})
