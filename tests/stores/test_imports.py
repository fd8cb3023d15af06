import io

import pytest
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from apps.core.imports import ImportFailed, import_file
from apps.stores.models import Channel, Store

pytestmark = pytest.mark.django_db

STORES_CSV = """code,name,kind,address,city,lat,lng,active
SH001,Jing'an,store,1515 Nanjing Rd W,Shanghai,31.228730,121.449620,yes
HZ001,Hubin,store,77 Hubin Rd,Hangzhou,30.257210,120.164230,1
WH01,Warehouse,warehouse,88 Logistics Rd,Shanghai,31.3834,121.2501,true
WEB,Online outlet,online,,,,,no
"""


def _import(resource: str, text: str, name: str = "f.csv"):
    return import_file(resource, io.BytesIO(text.encode()), name)


def test_store_import_creates_every_row():
    result = _import("stores", STORES_CSV)

    assert (result.created, result.updated, result.unchanged) == (4, 0, 0)
    sh = Store.objects.get(code="SH001")
    assert (sh.name, sh.kind, sh.city, str(sh.lat), str(sh.lng), sh.is_active) == (
        "Jing'an",
        "store",
        "Shanghai",
        "31.228730",
        "121.449620",
        True,
    )
    web = Store.objects.get(code="WEB")
    assert web.lat is None and web.is_active is False


def test_reimporting_the_same_file_changes_nothing():
    _import("stores", STORES_CSV)
    before = list(Store.objects.order_by("code").values())

    result = _import("stores", STORES_CSV)

    assert (result.created, result.updated, result.unchanged) == (0, 0, 4)
    assert list(Store.objects.order_by("code").values()) == before


def test_changed_rows_are_updated_by_code():
    _import("stores", STORES_CSV)
    result = _import("stores", STORES_CSV.replace("Hubin,store", "Hubin in77,store"))
    assert (result.created, result.updated, result.unchanged) == (0, 1, 3)
    assert Store.objects.get(code="HZ001").name == "Hubin in77"


def test_a_file_with_bad_rows_imports_nothing_and_reports_every_bad_line():
    bad = (
        "code,name,kind,address,city,lat,lng,active\n"
        "OK1,Fine,store,,Shanghai,31.2,121.4,yes\n"  # line 2 good
        "BAD1,Bad kind,shop,,Shanghai,31.2,121.4,yes\n"  # line 3
        "BAD2,Bad lat,store,,Shanghai,95,121.4,yes\n"  # line 4
        "OK1,Duplicate,store,,Shanghai,31.2,121.4,yes\n"  # line 5
        ",No code,store,,Shanghai,31.2,121.4,yes\n"  # line 6
        "BAD3,Half location,store,,Shanghai,31.2,,yes\n"  # line 7
        "BAD4,Bad flag,store,,Shanghai,31.2,121.4,maybe\n"  # line 8
    )
    with pytest.raises(ImportFailed) as caught:
        _import("stores", bad)

    assert [e.line for e in caught.value.row_errors] == [3, 4, 5, 6, 7, 8]
    messages = {e.line: str(e) for e in caught.value.row_errors}
    assert "shop" in messages[3] and "kind" in messages[3]
    assert "duplicate of line 2" in messages[5]
    assert not Store.objects.exists()


def test_missing_column_is_reported_on_the_header_line():
    with pytest.raises(ImportFailed) as caught:
        _import("channels", "code,name\npos,Store POS\n")
    assert caught.value.row_errors[0].line == 1
    assert "kind" in caught.value.row_errors[0].message


def test_xlsx_files_import_like_csv():
    wb = Workbook()
    ws = wb.active
    ws.append(["code", "name", "kind"])
    ws.append(["pos", "Store POS", "pos"])
    ws.append(["tmall", "Tmall", "platform"])
    buffer = io.BytesIO()
    wb.save(buffer)
    buffer.seek(0)

    result = import_file("channels", buffer, "channels.xlsx")

    assert result.created == 2
    assert set(Channel.objects.values_list("code", "kind")) == {("pos", "pos"), ("tmall", "platform")}


def test_import_command_exits_non_zero_and_names_each_bad_line(tmp_path, capsys):
    path = tmp_path / "channels.csv"
    path.write_text("code,name,kind\npos,POS,pos\nx,Bad,fax\ny,,mall\n")

    with pytest.raises(CommandError, match="2 bad row"):
        call_command("import_data", "channels", str(path))

    err = capsys.readouterr().err
    assert "line 3, column kind" in err and "line 4, column name" in err
    assert not Channel.objects.exists()


def test_import_command_happy_path(tmp_path, capsys):
    path = tmp_path / "channels.csv"
    path.write_text("code,name,kind\npos,POS,pos\nmall,Mall,mall\n")
    call_command("import_data", "channels", str(path))
    assert "2 created" in capsys.readouterr().out
    call_command("import_data", "channels", str(path))
    assert "0 created, 0 updated, 2 unchanged" in capsys.readouterr().out
