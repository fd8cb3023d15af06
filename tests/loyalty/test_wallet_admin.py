from decimal import Decimal

import pytest

from apps.loyalty.models import Wallet, WalletEntry
from apps.loyalty.wallet.services import wallet_recharge
from apps.stores.models import Staff
from apps.stores.services import staff_create
from tests.factories import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def hq(client):
    staff = staff_create(code="HQ1", name="Op", role=Staff.Role.HQ_OPERATOR, username="op", password="pw-for-tests-1")
    client.force_login(staff.user)
    return staff


@pytest.fixture
def member(db):
    return MemberFactory(code="123456789012", join_store=StoreFactory(code="S001"))


def _form(client, url, **data):
    request_id = client.get(url).context["form"].initial["request_id"]
    return {"member": "123456789012", "request_id": request_id, **data}


def test_console_recharge_books_once_and_closing_the_card_forfeits_bonus(client, hq, member):
    url = "/admin/loyalty/walletentry/recharge/"
    form = _form(client, url, amount="200.00", payment_method="card", store="")
    client.post(url, form)
    client.post(url, form)  # submitted twice
    assert WalletEntry.objects.filter(kind="recharge").count() == 1
    adjust = "/admin/loyalty/walletentry/adjust/"
    client.post(adjust, _form(client, adjust, principal="0", bonus="15.00", reason="goodwill"))
    close = "/admin/loyalty/walletentry/withdraw/"
    client.post(close, _form(client, close, payment_method="cash", reason="leaving town"))
    entry = WalletEntry.objects.get(kind="withdrawal")
    assert (entry.principal, entry.bonus, entry.reason, entry.created_by) == (
        Decimal("-200.00"),
        Decimal("-15.00"),
        "leaving town",
        hq.user,
    )


def test_check_page_names_a_wallet_that_drifted(client, hq, member):
    wallet_recharge(member=member, amount="10", payment_method="cash", idempotency_key="k")
    assert "Every wallet equals" in client.get("/admin/loyalty/walletentry/check/").content.decode()
    Wallet.objects.filter(member=member).update(principal=Decimal("99"))  # what a bug would do
    assert member.code in client.get("/admin/loyalty/walletentry/check/").content.decode()


def test_liability_report_and_csv(client, hq, member):
    wallet_recharge(member=member, amount="300", payment_method="cash", idempotency_key="k")
    page = client.get("/admin/loyalty/walletentry/liability/").content.decode()
    assert "300.00" in page and "S001" in page
    csv = client.get("/admin/loyalty/walletentry/liability/?format=csv").content.decode().splitlines()
    assert csv[0].startswith("store,month,recharged") and csv[1].startswith("S001,") and csv[1].endswith(",300.00,0.00")


def test_rules_and_ledger_pages_open(client, hq, member):
    wallet_recharge(member=member, amount="10", payment_method="cash", idempotency_key="k")
    for url in ("/admin/loyalty/rechargerule/", "/admin/loyalty/rechargerule/add/", "/admin/loyalty/walletentry/"):
        assert client.get(url).status_code == 200, url
