from django.conf import settings
from django.db import migrations

TASKS = {
    "Insights: fit the lifetime value models and score every member (weekly)": ("insights.clv_fit", "45", "4", "1"),
}


def create_tasks(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, (task, minute, hour, day_of_week) in TASKS.items():
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_week=day_of_week,
            day_of_month="*",
            month_of_year="*",
            timezone=settings.TIME_ZONE,
        )
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "crontab": crontab})


def delete_tasks(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=list(TASKS)).delete()


class Migration(migrations.Migration):
    # Monday 04:45, after the nightly profile refresh (04:15).
    dependencies = [
        ("insights", "0009_clv_models_and_conditions"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create_tasks, delete_tasks)]
