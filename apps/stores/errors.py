from django.utils.translation import gettext_lazy as _

from apps.core.errors import DomainError, ErrorCode, NotFound, ValidationFailed


class StoreErrorCode(ErrorCode):
    """The stores app's error codes: stable, unique across the project."""

    UNKNOWN_STORE = "unknown_store"
    UNKNOWN_CHANNEL = "unknown_channel"
    UNKNOWN_STAFF = "unknown_staff"
    INVALID_LOCATION = "invalid_location"
    STAFF_NOT_IN_STORE = "staff_not_in_store"
    INVALID_STAFF = "invalid_staff"
    INVALID_SCOPES = "invalid_scopes"
    INSUFFICIENT_SCOPE = "insufficient_scope"


class UnknownStore(NotFound):
    code = StoreErrorCode.UNKNOWN_STORE
    title = _("No such store")


class UnknownChannel(NotFound):
    code = StoreErrorCode.UNKNOWN_CHANNEL
    title = _("No such channel")


class UnknownStaff(NotFound):
    code = StoreErrorCode.UNKNOWN_STAFF
    title = _("No such staff member")


class InvalidLocation(ValidationFailed):
    code = StoreErrorCode.INVALID_LOCATION
    title = _("Latitude must be within -90..90 and longitude within -180..180")


class StaffStoreMismatch(DomainError):
    code = StoreErrorCode.STAFF_NOT_IN_STORE
    title = _("This staff member does not work in that store")


class InvalidStaff(ValidationFailed):
    code = StoreErrorCode.INVALID_STAFF
    title = _("The staff details are not valid")


class InvalidApiKeyScopes(ValidationFailed):
    code = StoreErrorCode.INVALID_SCOPES
    title = _("Unknown API key scopes")


class InsufficientScope(DomainError):
    """The key is valid but may not do this (403): its channel was not given the scope."""

    code = StoreErrorCode.INSUFFICIENT_SCOPE
    status = 403
    title = _("The API key lacks the scope this operation needs")
