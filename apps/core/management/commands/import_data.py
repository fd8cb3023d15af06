from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.imports import ImportFailed, import_file, registered_resources


class Command(BaseCommand):
    help = "Import a CSV or XLSX file, all or nothing; every bad row is reported with its line number."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("resource", choices=registered_resources())
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--award-points",
            action="store_true",
            help="orders only: book points for imported orders (off by default for historic imports)",
        )

    def handle(self, *args, resource: str, file: Path, award_points: bool, **options) -> None:
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        extra = {"award_points": award_points} if resource == "orders" else {}
        try:
            with file.open("rb") as stream:
                result = import_file(resource, stream, file.name, **extra)
        except ImportFailed as exc:
            for error in exc.row_errors:
                self.stderr.write(f"{file.name}: {error}")
            raise CommandError(f"{len(exc.row_errors)} bad row(s) in {file.name}; nothing was imported") from exc
        self.stdout.write(self.style.SUCCESS(str(result)))
