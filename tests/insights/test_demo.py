import pytest
from django.core.management import call_command

from apps.insights.models import KpiMonth, MemberProfile, Segment
from apps.insights.selectors import segment_members

pytestmark = pytest.mark.django_db


def test_demo_seeds_segments_profiles_and_kpis_and_reseeding_adds_nothing(capsys):
    call_command("seed_demo")
    segments = Segment.objects.count()
    call_command("seed_demo")
    assert segments == Segment.objects.count() >= 3  # ours, and any a later app seeds
    assert MemberProfile.objects.count() > 1000 and KpiMonth.objects.exists()
    assert segment_members(segment=Segment.objects.get(code="gold-or-vip")).exists()
    assert "KPI dashboard" in capsys.readouterr().out
