from django.db import migrations


def set_fillfactor(apps, schema_editor):
    # The nightly refresh rewrites every profile row; with room left on each page the updates are HOT.
    schema_editor.execute("ALTER TABLE insights_memberprofile SET (fillfactor = 50)")


def reset_fillfactor(apps, schema_editor):
    schema_editor.execute("ALTER TABLE insights_memberprofile RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0003_kpi_dashboard_name"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="memberprofile", name="profile_lifecycle_idx"),
        migrations.RemoveIndex(model_name="memberprofile", name="profile_rfm_idx"),
        migrations.RunPython(set_fillfactor, reset_fillfactor),
    ]
