from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, DomainError, ErrorCode, ValidationFailed


class CampaignErrorCode(ErrorCode):
    """The campaigns app's error codes: stable, unique across the project."""

    CAMPAIGN_INVALID_CONTENT = "campaign_invalid_content"
    JOURNEY_INVALID = "journey_invalid"
    BROADCAST_INVALID = "broadcast_invalid"
    BROADCAST_ALREADY_SENT = "broadcast_already_sent"
    WECHAT_UNAVAILABLE = "wechat_unavailable"


class InvalidContent(ValidationFailed):
    code = CampaignErrorCode.CAMPAIGN_INVALID_CONTENT
    title = _("The message content is not valid")


class InvalidJourney(ValidationFailed):
    code = CampaignErrorCode.JOURNEY_INVALID
    title = _("The journey is not valid")


class InvalidBroadcast(ValidationFailed):
    code = CampaignErrorCode.BROADCAST_INVALID
    title = _("The broadcast is not valid")


class BroadcastAlreadySent(Conflict):
    code = CampaignErrorCode.BROADCAST_ALREADY_SENT
    title = _("This broadcast was already handed to the outbox")


class WeChatUnavailable(DomainError):
    code = CampaignErrorCode.WECHAT_UNAVAILABLE
    status = 503
    title = _("WeChat did not answer; try again in a moment")
