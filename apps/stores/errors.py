from apps.core.errors import DomainError, NotFound, ValidationFailed


class UnknownStore(NotFound):
    code = "unknown_store"
    title = "No such store"


class UnknownChannel(NotFound):
    code = "unknown_channel"
    title = "No such channel"


class UnknownStaff(NotFound):
    code = "unknown_staff"
    title = "No such staff member"


class InvalidLocation(ValidationFailed):
    code = "invalid_location"
    title = "Latitude must be within -90..90 and longitude within -180..180"


class StaffStoreMismatch(DomainError):
    code = "staff_not_in_store"
    title = "This staff member does not work in that store"


class InvalidStaff(ValidationFailed):
    code = "invalid_staff"
    title = "The staff details are not valid"


class InvalidApiKeyScopes(ValidationFailed):
    code = "invalid_scopes"
    title = "Unknown API key scopes"


class InsufficientScope(DomainError):
    """The key is valid but may not do this (403): its channel was not given the scope."""

    code = "insufficient_scope"
    status = 403
    title = "The API key lacks the scope this operation needs"
