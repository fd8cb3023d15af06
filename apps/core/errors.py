"""Domain errors with stable codes.

Services raise a ``DomainError`` subclass; the API renders it as RFC 9457 problem details
(``apps.core.api.problem_exception_handler``) and HTML views show ``error.message``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """A refusal a user can act on. ``code`` is stable and machine-readable."""

    code: ClassVar[str] = "domain_error"
    status: ClassVar[int] = 422
    title: ClassVar[str] = "The request cannot be carried out"

    def __init__(self, detail: str | None = None, *, errors: dict[str, Any] | None = None) -> None:
        self.detail = detail or self.title
        self.errors = errors
        super().__init__(self.detail)

    @property
    def message(self) -> str:
        return self.detail


class NotFound(DomainError):
    code = "not_found"
    status = 404
    title = "Not found"


class ValidationFailed(DomainError):
    code = "validation_error"
    status = 400
    title = "The request is not valid"


class Conflict(DomainError):
    code = "conflict"
    status = 409
    title = "Conflict with the current state"


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    title = "This idempotency key was used with a different request"
