from django.db import migrations


def leave_half_free(apps, schema_editor):
    """Batch jobs update every member row in one transaction (the monthly points expiry, re-tiering): an
    update stays on its row's page, touching none of the member table's indexes (a HOT update), only if the
    page has room for a second copy of each row on it. At 85% full only about one row in six fitted and the
    expiry rewrote eleven index entries for the rest. Pages filled by new rows now keep half free; existing
    pages follow after a table rewrite (VACUUM FULL or pg_repack, in a maintenance window)."""
    schema_editor.execute("ALTER TABLE members_member SET (fillfactor = 50)")


def back_to_85(apps, schema_editor):
    schema_editor.execute("ALTER TABLE members_member SET (fillfactor = 85)")


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0005_member_tier_updates_in_place"),
    ]

    operations = [migrations.RunPython(leave_half_free, back_to_85, elidable=False)]
