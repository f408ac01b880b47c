"""doc/schema.json is the JSON interface: every document pysnap prints must validate against
it, and every key pysnap prints must be declared in it (a key the schema does not name is
an undocumented field, which this test refuses).

Documents: `analyze --json` (with and without locals) of the committed real snapshots of
every version, `analyze FILE FILE --json` (several), `analyze --summary --json` and a live
`dump --json` of a small target. Validation uses Debian's python3-jsonschema (installed by
scripts/install-deps.sh); the undocumented-key walk needs nothing.
"""

import json

import pytest

from cli_util import REPO, describe, run_pysnap
from schema_util import SCHEMA, check, undocumented

CORPUS = REPO / "tests" / "fuzz" / "corpus" / "snapshot"
SNAPSHOTS = sorted(p.name for p in CORPUS.iterdir()) if CORPUS.is_dir() else []


def analyze_json(pysnap_bin, *args):
    res = run_pysnap(pysnap_bin, "analyze", "--json", *args)
    assert res.returncode == 0, describe(res)
    return json.loads(res.stdout)


def test_corpus_present():
    assert len(SNAPSHOTS) >= 8, "committed snapshots missing from %s" % CORPUS


@pytest.mark.parametrize("name", SNAPSHOTS)
def test_analyze_json_matches_schema(pysnap_bin, name):
    check(analyze_json(pysnap_bin, CORPUS / name), SCHEMA)


def test_analyze_json_without_locals_matches_schema(pysnap_bin):
    check(analyze_json(pysnap_bin, "--no-locals", CORPUS / "3.12.1-zstd"), SCHEMA)


def test_several_snapshots_match_schema(pysnap_bin):
    doc = analyze_json(pysnap_bin, CORPUS / "3.8.18-zstd", CORPUS / "sid-3.15-zstd")
    check(doc, {"$ref": "#/$defs/analyze_many"})


def test_summary_matches_schema(pysnap_bin):
    doc = analyze_json(pysnap_bin, "--summary", "--baseline", CORPUS / "3.12.1-raw",
                       CORPUS / "3.8.18-zstd", CORPUS / "3.12.1-zstd", CORPUS / "sid-3.15-zstd")
    check(doc, {"$ref": "#/$defs/summary"})


def test_dump_json_matches_schema(pysnap_bin, python_target):
    res = run_pysnap(pysnap_bin, "dump", "--pid", python_target.pid, "--json")
    assert res.returncode == 0, describe(res)
    check(json.loads(res.stdout), SCHEMA)


def test_undocumented_key_is_caught():
    """The walk itself must be able to fail."""
    assert undocumented({"pysnap": {"version": "x"}, "frobnicate": 1}, SCHEMA) == ["$.frobnicate"]
