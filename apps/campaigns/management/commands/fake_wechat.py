import contextlib

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from apps.campaigns.wechat.fake_server import FakeWeChat


class Command(BaseCommand):
    help = "Run the local fake WeChat / WeCom API server in the foreground (for the demo and manual tests)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8900)
        parser.add_argument(
            "--site", default="http://127.0.0.1:8000", help="the shop's site: scans are delivered to its callback"
        )

    def handle(self, *args, host: str, port: int, site: str, **options) -> None:
        fake = FakeWeChat(
            host,
            port,
            app_id=settings.WECHAT_APP_ID,
            app_secret=settings.WECHAT_APP_SECRET,
            corp_id=settings.WECOM_CORP_ID,
            corp_secret=settings.WECOM_SECRET,
            site_url=site.rstrip("/"),
            callback_token=settings.WECHAT_TOKEN,
        )
        self.stdout.write(f"Fake WeChat API at {fake.base_url} (set WECHAT_API_BASE_URL and WECOM_API_BASE_URL to it)")
        self.stdout.write(f"simulated phone: http://{host}:{fake._server.server_address[1]}/_fake/phone")
        self.stdout.write(f"accepts appid={settings.WECHAT_APP_ID} corpid={settings.WECOM_CORP_ID}; Ctrl-C stops")
        with contextlib.suppress(KeyboardInterrupt):
            fake.serve_forever()
