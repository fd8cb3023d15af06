"""Domain errors with stable codes.

Services raise a ``DomainError`` subclass; the API renders it as RFC 9457 problem details
(``apps.core.api.problem_exception_handler``) and HTML views show ``error.message``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class ErrorCode(StrEnum):
    """Base of every app's error-code registry (``class MemberErrorCode(ErrorCode)`` in ``<app>/errors.py``).

    A code is stable and unique across the project (``tests/test_error_codes.py`` checks both).
    """


class CoreErrorCode(ErrorCode):
    DOMAIN_ERROR = "domain_error"
    NOT_FOUND = "not_found"
    VALIDATION_ERROR = "validation_error"
    CONFLICT = "conflict"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    IMPORT_INVALID = "import_invalid"


class DomainError(Exception):
    """A refusal a user can act on. ``code`` is stable and machine-readable."""

    code: ClassVar[str] = CoreErrorCode.DOMAIN_ERROR
    status: ClassVar[int] = 422
    title: ClassVar[str | Promise] = _("The request cannot be carried out")
    #: the detail is a translated sentence meant for people (a clerk page shows it as it is)
    is_for_people: ClassVar[bool] = False

    def __init__(self, detail: str | Promise | None = None, *, errors: dict[str, Any] | None = None) -> None:
        self.detail: str | Promise = detail or self.title
        self.errors = errors
        super().__init__(self.detail)

    @property
    def message(self) -> str:
        return str(self.detail)


class NotFound(DomainError):
    code: ClassVar[str] = CoreErrorCode.NOT_FOUND
    status = 404
    title = _("Not found")


class ValidationFailed(DomainError):
    code: ClassVar[str] = CoreErrorCode.VALIDATION_ERROR
    status = 400
    title = _("The request is not valid")


class Conflict(DomainError):
    code: ClassVar[str] = CoreErrorCode.CONFLICT
    status = 409
    title = _("Conflict with the current state")


class IdempotencyConflict(Conflict):
    code: ClassVar[str] = CoreErrorCode.IDEMPOTENCY_CONFLICT
    title = _("This idempotency key was used with a different request")
