from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, DomainError, ErrorCode, NotFound, ValidationFailed


class MemberErrorCode(ErrorCode):
    """The members app's error codes: stable, unique across the project."""

    INVALID_PHONE = "invalid_phone"
    MEMBER_NOT_FOUND = "member_not_found"
    IDENTITY_CONFLICT = "identity_conflict"
    INVALID_MEMBER = "invalid_member"
    MERGE_INVALID = "merge_invalid"
    UNKNOWN_TIER = "unknown_tier"
    MEMBER_NOT_ACTIVE = "member_not_active"
    CARD_LINK_INVALID = "card_link_invalid"
    CARD_LINK_EXPIRED = "card_link_expired"
    PHONE_TAKEN = "phone_taken"
    BINDING_INVALID = "binding_invalid"


class InvalidPhone(ValidationFailed):
    code = MemberErrorCode.INVALID_PHONE
    title = _("Not a valid phone number")


class MemberNotFound(NotFound):
    code = MemberErrorCode.MEMBER_NOT_FOUND
    title = _("No such member")


class IdentityConflict(Conflict):
    code = MemberErrorCode.IDENTITY_CONFLICT
    title = _("This identity belongs to another member")


class InvalidMemberData(ValidationFailed):
    code = MemberErrorCode.INVALID_MEMBER
    title = _("The member data is not valid")


class MergeInvalid(DomainError):
    code = MemberErrorCode.MERGE_INVALID
    title = _("These members cannot be merged")


class UnknownTier(NotFound):
    code = MemberErrorCode.UNKNOWN_TIER
    title = _("No such tier")


class MemberNotActive(DomainError):
    code = MemberErrorCode.MEMBER_NOT_ACTIVE
    title = _("This member is merged or erased")


class PhoneTaken(Conflict):
    code = MemberErrorCode.PHONE_TAKEN
    title = _("This phone belongs to another member")


class BindingSceneInvalid(DomainError):
    code = MemberErrorCode.BINDING_INVALID
    title = _("This WeChat binding cannot be carried out")
