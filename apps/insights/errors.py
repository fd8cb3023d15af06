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
