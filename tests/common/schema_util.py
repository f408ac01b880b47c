"""Checking pysnap's JSON against doc/schema.json, shared by the cli and e2e tests.

check(doc[, node]) fails the test when DOC does not validate (Debian's python3-jsonschema;
skipped with a reason when it is absent) or when DOC has a key that no applicable schema node
declares: the schema must document every field pysnap prints.
"""

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "doc" / "schema.json").read_text())


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


def check(doc, node=None):
    """Fail (pytest) when DOC does not validate against NODE (default: the analyze
    document) or has a key the schema does not declare."""
    node = SCHEMA if node is None else node
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
