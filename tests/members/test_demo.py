import pytest
from django.core.management import call_command

from apps.members.models import Member, Tier

pytestmark = pytest.mark.django_db


def test_demo_members_spread_over_the_tiers_and_reseeding_adds_nothing(capsys):
    call_command("seed_demo")
    count = Member.objects.count()
    spread = {t.code: t.member_set.count() for t in Tier.objects.all()}

    call_command("seed_demo")

    assert count >= 3000 and Member.objects.count() == count
    assert spread["silver"] > spread["gold"] > spread["platinum"] > 0  # most members at the bottom
    assert "Demo member: card" in capsys.readouterr().out
