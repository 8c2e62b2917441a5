"""English and Simplified Chinese: every label and message of the console in both.

The language is the `cl_lang` cookie's (set by the switch on every page), else the browser's
Accept-Language (any zh-* variant gets Simplified Chinese), else English. Messages are
`{key: (English, 简体中文)}`, so a key cannot exist in one language only; a unit test holds every
key a template uses to this catalogue.
"""

from __future__ import annotations

from collections.abc import Callable

from services.console.i18n_codes import CODES
from services.console.i18n_messages import MESSAGES
from services.console.i18n_problems import PROBLEMS

LANGS = ("en", "zh-CN")


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    if cookie in LANGS:
        return str(cookie)
    ranked: list[tuple[float, int, str]] = []
    for n, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, n, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en") or tag == "*":
            return "en"
    return "en"


def _index(lang: str) -> int:
    return 1 if lang == "zh-CN" else 0


def text(lang: str, key: str) -> str:
    return MESSAGES[key][_index(lang)]


def translator(lang: str) -> Callable[[str], str]:
    def t(key: str) -> str:
        return text(lang, key)

    return t


def codes(vocabulary: str, lang: str) -> list[tuple[str, str]]:
    i = _index(lang)
    return [(code, names[i]) for code, names in CODES[vocabulary].items()]


def label(code: object, vocabulary: str, lang: str) -> str:
    if code is None:
        return "—"
    names = CODES[vocabulary].get(str(code))
    return names[_index(lang)] if names else str(code)


def problem(code: str | None, lang: str) -> str | None:
    """A service's refusal in this language, by its problem code; None for a code not known here."""
    known = PROBLEMS.get(code or "")
    return known[_index(lang)] if known else None
