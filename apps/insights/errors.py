from apps.core.errors import DomainError, NotFound, ValidationFailed


class InvalidSegment(ValidationFailed):
    code = "invalid_segment"
    title = "The segment's conditions are not valid"


class SegmentNotFound(NotFound):
    code = "segment_not_found"
    title = "No such segment"


class InvalidKpiQuery(ValidationFailed):
    code = "invalid_kpi_query"
    title = "The KPI query is not valid"


class InvalidTag(ValidationFailed):
    code = "invalid_tag"
    title = "The tag is not valid"


class TagNotManual(DomainError):
    code = "tag_not_manual"
    title = "Only manual tags can be set by hand"


class ClvCannotFit(DomainError):
    """The lifetime value models were not fitted; the previous model and scores are kept."""

    code = "clv_cannot_fit"
    title = "The lifetime value models cannot be fitted"


class ClvTooLittleData(ClvCannotFit):
    code = "clv_too_little_data"
    title = "Too little purchase history to fit the lifetime value models"


class ClvBadDate(ClvCannotFit):
    code = "clv_bad_as_of"
    title = "The as-of date is not usable"


class ClvNotConverged(ClvCannotFit):
    code = "clv_not_converged"
    title = "The lifetime value models did not converge"
