from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.stores.errors import UnknownChannel
from apps.stores.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a channel and print it once (on the last line)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("channel_code")
        parser.add_argument("--name", default="", help="what the key is for")

    def handle(self, *args, channel_code: str, name: str, **options) -> None:
        try:
            key, raw = api_key_create(channel_code=channel_code, name=name)
        except UnknownChannel as exc:
            raise CommandError(exc.message) from exc
        self.stderr.write(f"API key {key.prefix} for channel {channel_code}; store it now, it is not shown again:")
        self.stdout.write(raw)
