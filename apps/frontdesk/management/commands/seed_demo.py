import importlib

from django.core.management.base import BaseCommand
from django.db import transaction

from apps.core.demo_links import demo_url
from apps.frontdesk.demo import seed_clerk_walkthrough
from apps.orders.wallet_demo import seed_wallet_orders

# Each app that has demo data provides ``apps.<app>.demo.seed(*, stdout) -> list[str]``; the lines it
# returns (logins, links) are printed at the end. Order matters: later apps use earlier apps' data.
DEMO_APPS = ("stores", "members", "catalog", "loyalty", "orders", "insights", "campaigns")


class Command(BaseCommand):
    help = "Create or refresh a believable demo merchant. Safe to run again."

    def handle(self, *args, **options) -> None:
        summary: list[str] = []
        for app in DEMO_APPS:
            try:
                module = importlib.import_module(f"apps.{app}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"apps.{app}.demo":
                    raise
                continue
            with transaction.atomic():
                summary += module.seed(stdout=self.stdout)
            self.stdout.write(f"seeded {app}")
        # The clerk pages' walkthrough (a sale, a voucher, the logins and a member-card link) uses every app's data.
        # Not wrapped: it books orders through order_create, whose transaction is durable (outermost); each
        # step is idempotent by its external id, so a second run completes what a first one left.
        summary += seed_clerk_walkthrough(stdout=self.stdout)
        summary += seed_wallet_orders()  # card-paid orders and a refund: order_create/order_refund, durable too
        self.stdout.write("")
        for line in summary:
            self.stdout.write(line)
        self.stdout.write(f"Links: start page {demo_url()}  operations console {demo_url('/admin/')}")
        self.stdout.write(f"  store pages {demo_url('/store/')}  API docs {demo_url('/api/v1/docs/')}")
        self.stdout.write(f"  health {demo_url('/healthz')}")
