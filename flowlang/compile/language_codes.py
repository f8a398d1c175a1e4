"""Known language codes: ISO 639-1 (two letters), a few ISO 639-3 codes used for Chinese
languages, optionally followed by a script or region subtag (zh-Hans, en-US, pt-BR)."""

from __future__ import annotations

import re

_CODES = """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv
    cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht
    hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la
    lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj
    om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv
    sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu"""
ISO_639_1 = frozenset(_CODES.split())
ISO_639_3 = frozenset({"yue", "cmn", "nan", "hak", "wuu", "fil"})
_TAG = re.compile(r"^([a-z]{2,3})(-([A-Z][a-z]{3}|[A-Z]{2}|[0-9]{3}))*$")


def is_language_code(code: str) -> bool:
    """True for codes such as `zh`, `en`, `yue`, `zh-Hant`, `en-US`."""
    match = _TAG.match(code)
    return match is not None and (match.group(1) in ISO_639_1 or match.group(1) in ISO_639_3)


def language_hint(code: str) -> str:
    lowered = code.lower().replace("_", "-")
    base = lowered.split("-")[0]
    if base in ISO_639_1 or base in ISO_639_3:
        return f"write '{base}' (or a region such as '{base}-{base.upper()}')"
    return "use an ISO 639-1 code such as zh, en, ja, or yue for Cantonese"
