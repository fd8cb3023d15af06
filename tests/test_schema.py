from django.core.management import call_command


def test_the_openapi_schema_is_valid_and_generates_without_warnings(db, tmp_path):
    """The schema is used to fuzz the API: it must describe every endpoint without guesswork."""
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert (tmp_path / "schema.yml").read_text().startswith("openapi: 3")
