"""Spec validation (errors name file and field) and the bundled catalog."""

import re

import pytest

from benchmark.core.errors import SpecError, UnknownNameError
from benchmark.tasks.catalog import all_specs, resolve_task, specs_in_suite, suites
from benchmark.tasks.spec import load_spec_file
from tests.conftest import write_spec

VALID = {
    "name": "my-task",
    "suite": "mine",
    "description": "a test task",
    "format": "beir",
    "dataset": "someone/something",
    "revision": "0123456789abcdef0123456789abcdef01234567",
    "languages": ["en"],
}


def test_valid_spec_loads(tmp_path):
    spec = load_spec_file(write_spec(tmp_path / "t.toml", **VALID))
    assert spec.name == "my-task" and spec.languages == ("en",) and spec.main_score == "ndcg_at_5"
    assert spec.revision_is_pinned


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"name": None}, "name", "missing"),
        ({"languages": None}, "languages", "missing"),
        ({"format": "qa"}, "format", "not one of"),
        ({"languages": ["xx"]}, "languages", "not a known language"),
        ({"languages": "en"}, "languages", "expected list"),
        ({"main_score": "ndcg_5"}, "main_score", "did you mean 'ndcg_at_5'"),
        ({"revision": None}, "revision", "required with 'dataset'"),
        ({"path": "folder"}, "dataset", "exactly one"),
        ({"n_pages": 0}, "n_pages", "positive"),
        ({"descripton": "typo"}, "descripton", "did you mean 'description'"),
        ({"name": "Bad Name"}, "name", "lowercase"),
        ({"text_dataset": "x/y_tesseract"}, "text_dataset", "only vidore-qa"),
        ({"query_language": "fr"}, "query_language", "not among languages"),
    ],
)
def test_bad_spec_names_file_and_field(tmp_path, change, field, message):
    fields = {**VALID, **change}
    fields = {key: value for key, value in fields.items() if value is not None}
    path = write_spec(tmp_path / "bad.toml", **fields)
    with pytest.raises(SpecError) as raised:
        load_spec_file(path)
    text = str(raised.value)
    assert str(path) in text and f"field '{field}'" in text and message in text


def test_invalid_toml_is_reported_with_its_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('name = "x\n', encoding="utf-8")
    with pytest.raises(SpecError, match=re.escape(str(path)) + ": invalid TOML"):
        load_spec_file(path)


def test_catalog_has_every_published_task():
    counts = {suite: len(specs_in_suite(suite)) for suite in suites()}
    assert counts == {
        "debian-faq": 2,
        "vidore-v1": 10,
        "vidore-v1-beir": 10,
        "vidore-v1-ocr-chunk": 10,
        "vidore-v2": 4,
        "vidore-v3": 8,
    }
    for spec in all_specs():
        assert spec.description and spec.languages
        if spec.suite != "debian-faq":
            assert spec.dataset and spec.revision, spec.name
        if spec.suite in ("vidore-v1-beir", "vidore-v2", "vidore-v3"):
            assert spec.revision_is_pinned, spec.name  # revisions from REFERENCE.md and the dataset cards
    for spec in specs_in_suite("vidore-v1"):
        assert spec.format == "vidore-qa" and spec.text_dataset == f"{spec.dataset}_tesseract"


def test_language_variant_and_did_you_mean():
    spec = resolve_task("esg-reports-v2@fr")
    assert spec.name == "esg-reports-v2@fr" and spec.query_language == "fr" and spec.languages == ("fr",)
    with pytest.raises(SpecError, match="has no language 'it'"):
        resolve_task("esg-reports-v2@it")
    with pytest.raises(UnknownNameError, match="did you mean 'docvqa'"):
        resolve_task("docvqaa")
    with pytest.raises(UnknownNameError, match="does not exist"):
        resolve_task("./no-such-folder")


def test_a_field_name_with_a_newline_is_named_on_one_line(tmp_path):
    spec = tmp_path / "odd.toml"
    spec.write_text(
        'name = "odd"\nsuite = "s"\ndescription = "d"\nformat = "local"\npath = "."\n'
        'languages = ["en"]\n"bad\\nkey" = 1\n',
        encoding="utf-8",
    )
    with pytest.raises(SpecError) as raised:
        load_spec_file(spec)
    assert "\n" not in str(raised.value) and "field 'bad\\nkey': unknown field" in str(raised.value)
