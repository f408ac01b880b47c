"""The data elements of a pysnap HTML report (analyze/render/render_html.c), decoded."""
import base64
import gzip
import json
import re

DATA = re.compile(r'<script type="application/json" data-pysnap="(\w+)"'
                  r'( data-encoding="gzip-base64")?>(.*?)</script>', re.S)


def page_data(page):
    """[(kind, encoding or None, document)] of PAGE's data elements, in page order."""
    out = []
    for kind, enc, body in DATA.findall(page):
        if enc:
            assert re.fullmatch(r"[A-Za-z0-9+/=\n]*", body), "not base64"
            doc = json.loads(gzip.decompress(base64.b64decode(body)))
        else:
            assert "<" not in body  # every '<' is \u003c: no value can end the element
            doc = json.loads(body)
        out.append((kind, "gzip-base64" if enc else None, doc))
    return out


def strip_data(page):
    return DATA.sub("", page)
