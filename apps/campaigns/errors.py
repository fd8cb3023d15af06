from apps.core.errors import Conflict, DomainError, ValidationFailed


class InvalidContent(ValidationFailed):
    code = "campaign_invalid_content"
    title = "The message content is not valid"


class InvalidJourney(ValidationFailed):
    code = "journey_invalid"
    title = "The journey is not valid"


class InvalidBroadcast(ValidationFailed):
    code = "broadcast_invalid"
    title = "The broadcast is not valid"


class BroadcastAlreadySent(Conflict):
    code = "broadcast_already_sent"
    title = "This broadcast was already handed to the outbox"


class WeChatUnavailable(DomainError):
    code = "wechat_unavailable"
    status = 503
    title = "WeChat did not answer; try again in a moment"
