from django.conf import settings
from django.db import migrations

TASKS = [
    ("Loyalty: expire due wallet bonus (nightly)", "loyalty.wallet_bonus_expire", "15"),
    ("Loyalty: sum closed months of the wallet ledger (nightly)", "loyalty.wallet_months_close", "20"),
]


def create_tasks(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, minute in TASKS:
        schedule, _ = CrontabSchedule.objects.get_or_create(
            minute=minute, hour="0", day_of_week="*", day_of_month="*", month_of_year="*", timezone=settings.TIME_ZONE
        )
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "crontab": schedule})


def delete_tasks(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[t[0] for t in TASKS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0007_wallet_ledger_recharge_rules_liability"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create_tasks, delete_tasks)]
