import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.members.errors import InvalidPhone
from apps.members.phones import phone_normalize

mobile_like = st.text(alphabet="0123456789", min_size=10, max_size=10).map(lambda tail: "1" + tail)
forms = st.sampled_from(["{n}", "+86{n}", "0086 {n}", "+86 {a} {b} {c}", "{a}-{b}-{c}", "(86) {n}"])


def _reference(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@settings(max_examples=3000, deadline=None)
@given(mobile_like, forms)
def test_the_fast_mobile_path_agrees_with_phonenumbers(number, form):
    text = form.format(n=number, a=number[:3], b=number[3:7], c=number[7:])
    try:
        ours = phone_normalize(text)
    except InvalidPhone:
        ours = None
    assert ours == _reference(text)
