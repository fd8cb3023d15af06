from django.core.management import call_command


def test_the_openapi_schema_is_valid_and_generates_without_warnings(db, tmp_path):
    """The schema is used to fuzz the API: it must describe every endpoint without guesswork."""
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert (tmp_path / "schema.yml").read_text().startswith("openapi: 3")


def test_every_error_response_is_documented_as_problem_json(db, tmp_path):
    """Errors are served as application/problem+json; the schema says so for every operation."""
    import yaml

    call_command("spectacular", "--file", str(tmp_path / "schema.yml"))
    schema = yaml.safe_load((tmp_path / "schema.yml").read_text())
    operations = [
        (path, method, op)
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/") and not path.startswith(("/api/v1/schema", "/api/v1/docs"))
        for method, op in item.items()
    ]
    assert operations
    for path, method, op in operations:
        errors = {code: r for code, r in op["responses"].items() if code.startswith(("4", "5"))}
        assert "403" in errors, (method, path)
        for code, response in errors.items():
            assert list(response["content"]) == ["application/problem+json"], (method, path, code)
