"""The one error type for a broken rule; the API and the pages turn it into a clear answer."""


class RuleError(Exception):
    """A request that breaks a rule. `status` is the HTTP status it maps to."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code


class Conflict(RuleError):
    """The request fits, but the state does not allow it now (expired lease, reused key)."""

    status = 409
    code = "conflict"


class Forbidden(RuleError):
    status = 403
    code = "forbidden"


class Gone(RuleError):
    """Something that existed and is no longer given out (an export file superseded by a
    withdrawal of consent)."""

    status = 410
    code = "gone"


class NotFound(RuleError):
    """Something this person may not know exists."""

    status = 404
    code = "not_found"
