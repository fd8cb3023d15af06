from django.core.management.base import BaseCommand, CommandParser

from apps.campaigns.services import outbox_dispatch_due


class Command(BaseCommand):
    help = "Send the due outbox messages now, in batches, then exit (what the periodic task does)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--max-batches", type=int, default=50)

    def handle(self, *args, batch_size: int | None, max_batches: int, **options) -> None:
        self.stdout.write(str(outbox_dispatch_due(max_batches=max_batches, batch_size=batch_size)))
