from django.db import migrations, models

# The defaults as they stood when scopes were introduced (apps.stores.scopes), frozen here.
ALL = "members:read members:write orders:read orders:write coupons:redeem vouchers:verify wallet:write catalog:read kpis:read"
PARTNER = "members:write orders:read orders:write catalog:read"
DEFAULTS = {"pos": ALL, "mall": ALL, "mini_program": ALL, "platform": PARTNER, "live": PARTNER}


def give_existing_keys_their_kinds_default(apps, schema_editor):
    ApiKey = apps.get_model("stores", "ApiKey")
    for kind, scopes in DEFAULTS.items():
        ApiKey.objects.filter(channel__kind=kind).update(scopes=scopes)


def forget_scopes(apps, schema_editor):
    apps.get_model("stores", "ApiKey").objects.update(scopes="")


class Migration(migrations.Migration):
    dependencies = [
        ("stores", "0003_staff_wecom_userid"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="scopes",
            field=models.CharField(
                blank=True,
                default="",
                help_text="What the key may do; see the API docs.",
                max_length=255,
                verbose_name="scopes",
            ),
        ),
        migrations.RunPython(give_existing_keys_their_kinds_default, forget_scopes),
    ]
