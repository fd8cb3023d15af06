from apps.core.errors import Conflict, DomainError, NotFound, ValidationFailed


class InvalidPhone(ValidationFailed):
    code = "invalid_phone"
    title = "Not a valid phone number"


class MemberNotFound(NotFound):
    code = "member_not_found"
    title = "No such member"


class IdentityConflict(Conflict):
    code = "identity_conflict"
    title = "This identity belongs to another member"


class InvalidMemberData(ValidationFailed):
    code = "invalid_member"
    title = "The member data is not valid"


class MergeInvalid(DomainError):
    code = "merge_invalid"
    title = "These members cannot be merged"


class UnknownTier(NotFound):
    code = "unknown_tier"
    title = "No such tier"


class MemberNotActive(DomainError):
    code = "member_not_active"
    title = "This member is merged or erased"


class PhoneTaken(Conflict):
    code = "phone_taken"
    title = "This phone belongs to another member"


class BindingSceneInvalid(DomainError):
    code = "binding_invalid"
    title = "This WeChat binding cannot be carried out"
