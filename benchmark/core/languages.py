"""One table of the languages pagebench knows, and what each tool calls them.

Specs use ISO 639-1 codes ("en", "fr"); datasets label queries with names such as
"english" or "eng-Latn"; Snowball stemmers, bm25s stopword lists and Tesseract
each have their own names. Keeping the mapping here avoids five ad-hoc copies.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1, as written in task specs
    name: str  # English name; also the Snowball stemmer and bm25s stopword name
    tesseract: str  # Tesseract traineddata name
    dataset_labels: frozenset[str]  # how datasets write it in a `language` column


def _language(code: str, name: str, tesseract: str) -> Language:
    labels = {code, name, tesseract, f"{tesseract}-latn"}
    return Language(code, name, tesseract, frozenset(labels))


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        _language("en", "english", "eng"),
        _language("fr", "french", "fra"),
        _language("de", "german", "deu"),
        _language("es", "spanish", "spa"),
        _language("it", "italian", "ita"),
        _language("pt", "portuguese", "por"),
    )
}


def language_of_label(label: str | None) -> str | None:
    """The ISO code for a dataset's language label ("english", "eng-Latn", "en"), or None."""
    if label is None:
        return None
    wanted = label.strip().lower()
    for lang in LANGUAGES.values():
        if wanted in lang.dataset_labels:
            return lang.code
    return None
