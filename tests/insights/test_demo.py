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


def test_demo_fits_the_lifetime_value_models_on_enough_history(capsys):
    from apps.insights.clv.models import ClvModel, MemberClv

    call_command("seed_demo")

    model = ClvModel.objects.get(is_current=True)
    assert model.members > 1000 and model.repeat_buyers > 500
    assert model.diagnostics["holdout"]["by_x"], model.diagnostics["holdout"]
    bands = set(MemberClv.objects.values_list("value_band", flat=True))
    assert bands == {"top10", "top25", "top50", "bottom50"}
    assert segment_members(segment=Segment.objects.get(code="slipping-away")).count() > 10
    assert segment_members(segment=Segment.objects.get(code="top-value")).count() > 100
    assert "predicted value: fitted as of" in capsys.readouterr().out
