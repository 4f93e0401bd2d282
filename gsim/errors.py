"""Google's JSON error bodies, byte for byte where it matters to a client.

Sidecar's retry and fallback logic keys on ``error.code`` and
``error.errors[0].reason`` (``rateLimitExceeded``, ``notFound``,
``fullSyncRequired``...), so every failure the simulator produces goes through
:class:`ApiError` and comes out in the shape Google uses. Gmail and Directory
(One Platform) add a canonical ``status``; Calendar's older front end does not.
"""

from __future__ import annotations

# Canonical gRPC status names Google puts in ``error.status`` (google.rpc.Code).
CANONICAL_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
}

HTTP_REASON_PHRASES = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    410: "Gone",
    412: "Precondition Failed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


class ApiError(Exception):
    """A failure answered as Google's ``{"error": {...}}`` body."""

    def __init__(
        self,
        code: int,
        message: str,
        reason: str,
        domain: str = "global",
        status: str | None = None,
        with_status: bool = True,
        location: str | None = None,
        location_type: str | None = None,
        inner_message: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.domain = domain
        self.status = status or CANONICAL_STATUS.get(code)
        self.with_status = with_status
        self.location = location
        self.location_type = location_type
        self.inner_message = inner_message or message
        self.headers = headers or {}

    def body(self) -> dict:
        item = {"message": self.inner_message, "domain": self.domain, "reason": self.reason}
        if self.location:
            item["location"] = self.location
            item["locationType"] = self.location_type or "parameter"
        error = {"code": self.code, "message": self.message, "errors": [item]}
        if self.with_status and self.status:
            error["status"] = self.status
        return {"error": error}

    def for_calendar(self) -> ApiError:
        """Calendar's front end omits ``status`` (its bodies predate One Platform)."""
        self.with_status = False
        return self


def not_found() -> ApiError:
    return ApiError(404, "Requested entity was not found.", "notFound")


def calendar_not_found() -> ApiError:
    return ApiError(404, "Not Found", "notFound", with_status=False)


def bad_request(message: str, reason: str = "invalidArgument", **kwargs) -> ApiError:
    return ApiError(400, message, reason, **kwargs)


def invalid_parameter(name: str, value: str, type_name: str) -> ApiError:
    """The One Platform message for a query value of the wrong type."""
    return ApiError(
        400,
        f"Invalid value at '{name}' ({type_name}), \"{value}\"",
        "invalid",
        inner_message=f"Invalid value at '{name}' ({type_name}), \"{value}\"",
    )


def unknown_parameter(name: str) -> ApiError:
    message = (
        f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query parameter.'
        f" Field '{name}' could not be found in request message."
    )
    return ApiError(400, message, "invalid")


def login_required() -> ApiError:
    return ApiError(
        401,
        "Request is missing required authentication credential. Expected OAuth 2 access token,"
        " login cookie or other valid authentication credential."
        " See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        "required",
        inner_message="Login Required.",
        location="Authorization",
        location_type="header",
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
    )


def invalid_credentials() -> ApiError:
    return ApiError(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token,"
        " login cookie or other valid authentication credential."
        " See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        "authError",
        inner_message="Invalid Credentials",
        location="Authorization",
        location_type="header",
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'},
    )


def insufficient_scopes() -> ApiError:
    return ApiError(
        403,
        "Request had insufficient authentication scopes.",
        "insufficientPermissions",
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="insufficient_scope"'},
    )


def rate_limit_exceeded() -> ApiError:
    """Gmail's 429 for a user over its per-minute quota units."""
    return ApiError(429, "Resource has been exhausted (e.g. check quota).", "rateLimitExceeded")


def user_rate_limit_exceeded() -> ApiError:
    """The 403 variant Google documents for per-user limits."""
    return ApiError(403, "User Rate Limit Exceeded", "userRateLimitExceeded", domain="usageLimits")


# The service names Google's quota messages carry.
QUOTA_SERVICES = {"gmail": "gmail.googleapis.com", "calendar": "calendar-json.googleapis.com",
                  "directory": "admin.googleapis.com"}


def project_rate_limit_exceeded(api: str, project_number: str, status: int = 429) -> ApiError:
    """The project's per-minute quota is spent (every user of the project is refused).

    429: the quota-system body ("Quota exceeded for quota metric 'Queries' and
    limit 'Queries per minute' of service ... for consumer 'project_number:N'.");
    403: the "Rate Limit Exceeded" body of Gmail's and Calendar's error guides
    (developers.google.com/workspace/gmail/api/guides/handle-errors,
    .../calendar/api/guides/errors). Reason ``rateLimitExceeded`` either way.
    """
    if status == 403:
        return ApiError(403, "Rate Limit Exceeded", "rateLimitExceeded", domain="usageLimits")
    message = (f"Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service "
               f"'{QUOTA_SERVICES[api]}' for consumer 'project_number:{project_number}'.")
    return ApiError(429, message, "rateLimitExceeded", domain="usageLimits")


def daily_limit_exceeded() -> ApiError:
    """The project's daily threshold is spent: 403 ``dailyLimitExceeded`` (Gmail's error guide:
    "Resolve a 403 error: Daily limit exceeded"), until midnight Pacific time."""
    return ApiError(403, "Daily Limit Exceeded", "dailyLimitExceeded", domain="usageLimits")


def backend_error(code: int) -> ApiError:
    if code == 503:
        return ApiError(503, "The service is currently unavailable.", "backendError")
    if code == 429:
        return rate_limit_exceeded()
    if code == 403:
        return user_rate_limit_exceeded()
    return ApiError(code, "Internal error encountered.", "backendError")
