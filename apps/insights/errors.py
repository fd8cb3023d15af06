from django.utils.translation import gettext_lazy as _

from apps.core.errors import DomainError, ErrorCode, NotFound, ValidationFailed


class InsightsErrorCode(ErrorCode):
    """The insights app's error codes: stable, unique across the project."""

    INVALID_SEGMENT = "invalid_segment"
    SEGMENT_NOT_FOUND = "segment_not_found"
    INVALID_KPI_QUERY = "invalid_kpi_query"
    INVALID_TAG = "invalid_tag"
    TAG_NOT_MANUAL = "tag_not_manual"
    CLV_CANNOT_FIT = "clv_cannot_fit"
    CLV_TOO_LITTLE_DATA = "clv_too_little_data"
    CLV_BAD_AS_OF = "clv_bad_as_of"
    CLV_NOT_CONVERGED = "clv_not_converged"


class InvalidSegment(ValidationFailed):
    code = InsightsErrorCode.INVALID_SEGMENT
    title = _("The segment's conditions are not valid")


class SegmentNotFound(NotFound):
    code = InsightsErrorCode.SEGMENT_NOT_FOUND
    title = _("No such segment")


class InvalidKpiQuery(ValidationFailed):
    code = InsightsErrorCode.INVALID_KPI_QUERY
    title = _("The KPI query is not valid")


class InvalidTag(ValidationFailed):
    code = InsightsErrorCode.INVALID_TAG
    title = _("The tag is not valid")


class TagNotManual(DomainError):
    code = InsightsErrorCode.TAG_NOT_MANUAL
    title = _("Only manual tags can be set by hand")


class ClvCannotFit(DomainError):
    """The lifetime value models were not fitted; the previous model and scores are kept."""

    code = InsightsErrorCode.CLV_CANNOT_FIT
    title = _("The lifetime value models cannot be fitted")


class ClvTooLittleData(ClvCannotFit):
    code = InsightsErrorCode.CLV_TOO_LITTLE_DATA
    title = _("Too little purchase history to fit the lifetime value models")


class ClvBadDate(ClvCannotFit):
    code = InsightsErrorCode.CLV_BAD_AS_OF
    title = _("The as-of date is not usable")


class ClvNotConverged(ClvCannotFit):
    code = InsightsErrorCode.CLV_NOT_CONVERGED
    title = _("The lifetime value models did not converge")
