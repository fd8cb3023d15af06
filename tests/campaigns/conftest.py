import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from apps.campaigns.wechat.client import WeChatSender


@pytest.fixture(autouse=True)
def _sequential_sending(settings):
    """Send from the test's own thread (its uncommitted data is invisible to other connections); tests of
    concurrent sending run with ``transaction=True`` and set OUTBOX_SEND_CONCURRENCY themselves."""
    settings.OUTBOX_SEND_CONCURRENCY = 1


@pytest.fixture
def sender(fake_wechat) -> WeChatSender:
    return WeChatSender.from_settings()


ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The test database's URL, for a dispatcher started as a separate process."""
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def recipients(fake) -> list[str]:
    """The recipients of every message the fake server received, in order."""
    return [m["to"][0] for m in fake.messages()]


def dispatcher_killed_mid_batch(fake, *, batch_size: int, timeout: float) -> int:
    """Run ``manage.py outbox_dispatch`` in a real process against a slow fake WeChat, SIGKILL it once five
    messages are out (mid-batch), and return how many the fake server had received by then."""
    fake.set_delay(100)  # each send takes 0.1 s, so the kill lands mid-batch
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "WECHAT_API_BASE_URL": fake.base_url,
        "WECOM_API_BASE_URL": fake.base_url,
        "CAMPAIGN_QUIET_HOURS": "0-0",
        "CAMPAIGN_MAX_PER_DAY": "5",
        "DJANGO_SECURE_SSL": "false",
        "OUTBOX_SEND_CONCURRENCY": "4",
    }
    env.pop("PYTEST_VERSION", None)
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "outbox_dispatch", "--batch-size", str(batch_size)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while len(fake.messages()) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    fake.set_delay(0)
    return len(fake.messages())
