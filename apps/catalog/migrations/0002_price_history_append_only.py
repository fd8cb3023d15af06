from django.db import migrations

# Past price changes explain past orders: once an entry's valid_from has passed it can be neither
# changed nor deleted, whoever tries (console, shell, a bug). Entries still in the future may be.
POSTGRESQL_FORWARD = """
CREATE FUNCTION catalog_price_change_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.valid_from <= now() THEN
        RAISE EXCEPTION 'price change % took effect at %; it cannot be changed or deleted', OLD.id, OLD.valid_from
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'UPDATE' THEN
        RETURN NEW;
    END IF;
    RETURN OLD;
END;
$$;
CREATE TRIGGER catalog_price_change_guard BEFORE UPDATE OR DELETE ON catalog_pricechange
    FOR EACH ROW EXECUTE FUNCTION catalog_price_change_guard();
"""
POSTGRESQL_BACKWARD = """
DROP TRIGGER IF EXISTS catalog_price_change_guard ON catalog_pricechange;
DROP FUNCTION IF EXISTS catalog_price_change_guard();
"""


def forward(apps, schema_editor) -> None:
    schema_editor.execute(POSTGRESQL_FORWARD, params=None)


def backward(apps, schema_editor) -> None:
    schema_editor.execute(POSTGRESQL_BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_catalog_prices_stock")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
