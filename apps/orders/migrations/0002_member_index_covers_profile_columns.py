from django.db import migrations, models

# The member index gains the columns the nightly member profiles read, so that refresh reads every member's
# orders from the index alone, in member order. The order table is large and busy in production: the new index
# is built CONCURRENTLY (orders keep coming in meanwhile) before the old one is dropped.
CREATE = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS order_member_cover_idx ON orders_order (member_id, placed_at) "
    "INCLUDE (store_id, is_online, total, refunded_total, id)"
)


def forwards(apps, schema_editor):
    schema_editor.execute(CREATE)
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS order_member_idx")


def backwards(apps, schema_editor):
    schema_editor.execute("CREATE INDEX CONCURRENTLY order_member_idx ON orders_order (member_id, placed_at)")
    schema_editor.execute("DROP INDEX CONCURRENTLY order_member_cover_idx")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("orders", "0001_orders_refunds_vouchers"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, backwards)],
            state_operations=[
                migrations.RemoveIndex(model_name="order", name="order_member_idx"),
                migrations.AddIndex(
                    model_name="order",
                    index=models.Index(
                        fields=["member", "placed_at"],
                        include=("store", "is_online", "total", "refunded_total", "id"),
                        name="order_member_cover_idx",
                    ),
                ),
            ],
        ),
    ]
