"""graphql/ is the API contract: the checked-in schema matches the code, operations validate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from graphql import build_schema, parse, validate

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "graphql" / "schema.graphql"
OPERATIONS = sorted((ROOT / "graphql" / "operations").glob("*.graphql"))


def test_checked_in_schema_matches_the_code(tmp_path):
    out = tmp_path / "schema.graphql"
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "graphql_schema",
            "--schema",
            "backend.config.schema.schema",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    assert out.read_text() == SCHEMA_FILE.read_text(), (
        "graphql/schema.graphql is out of date: run "
        "python manage.py graphql_schema --schema backend.config.schema.schema --out graphql/schema.graphql"
    )


@pytest.mark.parametrize("path", OPERATIONS, ids=[p.stem for p in OPERATIONS])
def test_every_documented_operation_validates(path):
    schema = build_schema(SCHEMA_FILE.read_text())
    document = parse(path.read_text())
    assert len(document.definitions) == 1, "one operation per file"
    assert validate(schema, document) == []
