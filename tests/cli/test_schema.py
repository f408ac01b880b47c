"""doc/schema.json is the JSON interface: every document pysnap prints must validate against
it, and every key pysnap prints must be declared in it (a key the schema does not name is
an undocumented field, which this test refuses).

Documents: `analyze --json` (with and without locals) of the committed real snapshots of
every version, `analyze FILE FILE --json` (several), `analyze --summary --json` and a live
`dump --json` of a small target. Validation uses Debian's python3-jsonschema (installed by
scripts/install-deps.sh); the undocumented-key walk needs nothing.
"""

import json
import re
from pathlib import Path

import pytest

from cli_util import REPO, describe, run_pysnap

SCHEMA = json.loads((REPO / "doc" / "schema.json").read_text())
CORPUS = REPO / "tests" / "fuzz" / "corpus" / "snapshot"
SNAPSHOTS = sorted(p.name for p in CORPUS.iterdir()) if CORPUS.is_dir() else []


def resolve(node):
    """Follow "$ref" (local refs only) to the node it names."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref == "#" or ref.startswith("#/"), ref
        node = SCHEMA
        for part in ref[2:].split("/") if ref != "#" else []:
            node = node[part]
    return node


def alternatives(node):
    node = resolve(node)
    alts = [node]
    for key in ("oneOf", "anyOf", "allOf"):
        for sub in node.get(key, []):
            alts.extend(alternatives(sub))
    return alts


def undocumented(doc, node, path="$"):
    """Paths of keys in DOC that no applicable schema node declares."""
    found = []
    alts = alternatives(node)
    if isinstance(doc, dict):
        declared, open_value = {}, None
        for a in alts:
            declared.update(a.get("properties", {}))
            if isinstance(a.get("additionalProperties"), dict):
                open_value = a["additionalProperties"]
        for key, value in doc.items():
            if key in declared:
                found += undocumented(value, declared[key], "%s.%s" % (path, key))
            elif open_value is not None:
                found += undocumented(value, open_value, "%s[%r]" % (path, key))
            else:
                found.append("%s.%s" % (path, key))
    elif isinstance(doc, list):
        items = [a["items"] for a in alts if isinstance(a.get("items"), dict)]
        for i, value in enumerate(doc):
            for it in items[:1]:
                found += undocumented(value, it, "%s[%d]" % (path, i))
    return found


def check(doc, node):
    jsonschema = pytest.importorskip("jsonschema", reason="python3-jsonschema not installed "
                                     "(scripts/install-deps.sh --tests installs it)")
    # "$ref"s inside a sub-schema ("#" is the analyze document) resolve against the whole file
    validator = jsonschema.Draft202012Validator(
        resolve(node), resolver=jsonschema.RefResolver.from_schema(SCHEMA))
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "schema violations:\n" + "\n".join(
        "  %s: %s" % ("/".join(map(str, e.absolute_path)), e.message[:300]) for e in errors[:20])
    extra = undocumented(doc, node)
    # one line per distinct key, not per occurrence
    assert not extra, "keys not declared in doc/schema.json: %s" % sorted(
        set(re.sub(r"\[\d+\]", "[]", p) for p in extra))


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
