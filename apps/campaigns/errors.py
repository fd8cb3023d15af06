from apps.core.errors import Conflict, ValidationFailed


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
