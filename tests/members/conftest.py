from decimal import Decimal

import pytest

from tests.factories import TierFactory


@pytest.fixture
def tiers(db):
    """Silver (base), Gold from 3,000 and Platinum from 10,000 yuan a year."""
    return {
        "silver": TierFactory(code="silver", name="Silver", rank=1, min_annual_spend=Decimal("0"), points_per_yuan=1),
        "gold": TierFactory(code="gold", name="Gold", rank=2, min_annual_spend=Decimal("3000"), points_per_yuan=2),
        "platinum": TierFactory(
            code="platinum", name="Platinum", rank=3, min_annual_spend=Decimal("10000"), points_per_yuan=3
        ),
    }
