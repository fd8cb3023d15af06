from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.errors import DomainError
from apps.stores.scopes import ALL_SCOPES
from apps.stores.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a channel and print it once (on the last line)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("channel_code")
        parser.add_argument("--name", default="", help="what the key is for")
        parser.add_argument(
            "--scopes",
            default=None,
            help=f"comma-separated, of {', '.join(ALL_SCOPES)}; default: the channel kind's default",
        )

    def handle(self, *args, channel_code: str, name: str, scopes: str | None, **options) -> None:
        try:
            key, raw = api_key_create(
                channel_code=channel_code, name=name, scopes=None if scopes is None else scopes.split(",")
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stderr.write(
            f"API key {key.prefix} for channel {channel_code} (scopes: {key.scopes or 'none'}); "
            "store it now, it is not shown again:"
        )
        self.stdout.write(raw)
