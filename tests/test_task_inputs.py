"""Hostile or careless task inputs (issue 13): pages outside the task folder, qrels that
lose or invent judgements, ids that break TREC files, cells that used to be internal
errors, and a fingerprint that tells different pages apart. Each is refused at load
time with pagebench's own one-line error naming the file and line, or noted."""

import os

import pytest

from benchmark.core.errors import PagebenchError, SpecError, TaskDataError
from benchmark.run.profile import profile_synthetic
from benchmark.run.settings import RunSettings
from benchmark.tasks import content as content_module
from benchmark.tasks import images as images_module
from benchmark.tasks import load_task
from benchmark.tasks.catalog import local_folder_spec, resolve_task
from tests.conftest import make_local_folder, page_image, png_bytes, write_jsonl

PAGES = {"p1": "zebra giraffe", "p2": "volcano lava", "p3": "piano violin"}
QUERIES = {"q1": "where is the zebra", "q2": "lava from a volcano"}
QRELS = [("q1", "p1", 1), ("q2", "p2", 1)]


@pytest.fixture
def folder(tmp_path):
    return make_local_folder(tmp_path / "tasks" / "my-docs", PAGES, QUERIES, QRELS)


def _corpus_with(folder, image: str) -> None:
    """The valid corpus, with page p3's image replaced by `image`."""
    records = [{"_id": p, "image": f"pages/{p}.png", "text": t} for p, t in PAGES.items()]
    records[2]["image"] = image
    write_jsonl(folder / "corpus.jsonl", records)


def _run(cli, folder, tmp_path, *extra):
    return cli(
        "run",
        "--task",
        folder,
        "--retriever",
        "bm25-ocr",
        "--output-dir",
        tmp_path / "out",
        "--no-progress",
        *extra,
    )


def _one_named_line(code, err, expected):
    assert code == 2, err
    assert expected in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


# --- case 8: pages are confined to their task folder -------------------------------


def _outside_page(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(png_bytes("secret"))
    return outside / "secret.png"


@pytest.mark.parametrize("how", ["dot-dot", "absolute", "symlink", "etc-passwd", "symlinked-folder"])
def test_a_page_outside_the_task_folder_is_refused_before_it_is_opened(
    folder, tmp_path, cli, monkeypatch, how
):
    secret = _outside_page(tmp_path)
    if how == "dot-dot":
        reference = "../../outside/secret.png"
    elif how == "absolute":
        reference = str(secret)
    elif how == "symlink":
        os.symlink(secret, folder / "pages" / "link.png")
        reference = "pages/link.png"
    elif how == "symlinked-folder":
        os.symlink(secret.parent, folder / "elsewhere")
        reference = "elsewhere/secret.png"
    else:
        reference = "../../../../../../../../../etc/passwd"
    _corpus_with(folder, reference)
    opened = []
    monkeypatch.setattr(content_module, "file_sha256", lambda path: opened.append(path) or "x")
    monkeypatch.setattr(images_module, "decode_image", lambda *a: opened.append(a) or pytest.fail("decoded"))
    code, _, err = _run(cli, folder, tmp_path)
    _one_named_line(code, err, "corpus.jsonl line 3 (page 'p3'): image")
    assert "outside the task folder" in err and "--allow-outside-pages" in err
    assert not any("secret" in str(path) or "passwd" in str(path) for path in opened)
    assert not (tmp_path / "out").exists()


def test_outside_pages_load_when_the_run_allows_them(folder, tmp_path, cli):
    _outside_page(tmp_path)
    _corpus_with(folder, "../../outside/secret.png")
    code, _, err = _run(cli, folder, tmp_path, "--allow-outside-pages")
    assert code == 0, err
    spec = resolve_task(str(folder))
    with pytest.raises(TaskDataError, match="outside the task folder"):
        load_task(spec)
    task = load_task(spec, allow_outside_pages=True)
    assert task.corpus.images.load([2], ["p3"])[0].size == (640, 200)


def test_a_symlink_that_stays_inside_the_folder_is_fine(folder):
    os.symlink(folder / "pages" / "p3.png", folder / "pages" / "alias.png")
    _corpus_with(folder, "pages/alias.png")
    assert len(load_task(resolve_task(str(folder))).corpus) == 3


# --- case 10: qrels ---------------------------------------------------------------


def _qrels_text(folder, text: str) -> None:
    (folder / "qrels" / "test.tsv").write_text(text, encoding="utf-8")


def test_qrels_without_a_header_keep_their_first_judgement(folder):
    _qrels_text(folder, "q1\tp1\t1\nq2\tp2\t1\n")
    task = load_task(resolve_task(str(folder)))
    assert task.qrels == {"q1": {"p1": 1}, "q2": {"p2": 1}}
    assert not task.notes


def test_conflicting_duplicate_qrels_name_both_lines(folder):
    _qrels_text(folder, "query-id\tcorpus-id\tscore\nq1\tp1\t1\nq2\tp2\t1\nq1\tp1\t0\n")
    with pytest.raises(
        TaskDataError, match=r"test.tsv line 4: query 'q1' and page 'p1' are judged 0 here and 1 on line 2"
    ):
        load_task(resolve_task(str(folder)))


def test_identical_duplicate_qrels_are_fine(folder):
    _qrels_text(folder, "q1\tp1\t1\nq2\tp2\t1\nq1\tp1\t1\n")
    assert load_task(resolve_task(str(folder))).qrels == {"q1": {"p1": 1}, "q2": {"p2": 1}}


@pytest.mark.parametrize("score", ["1_0", "99999999999999999999", "\u0661", "+1", "1.0", " "])
def test_a_score_that_is_not_a_plain_integer_is_named(folder, tmp_path, cli, score):
    _qrels_text(folder, f"query-id\tcorpus-id\tscore\nq1\tp1\t1\nq2\tp2\t{score}\n")
    code, _, err = _run(cli, folder, tmp_path)
    _one_named_line(code, err, "test.tsv line 3: score")


def test_a_query_judged_only_irrelevant_is_noted_by_name(folder, tmp_path, cli):
    _qrels_text(folder, "q1\tp1\t1\nq2\tp2\t0\nq2\tp3\t0\n")
    task = load_task(resolve_task(str(folder)))
    assert any("no relevant page" in note and "'q2'" in note for note in task.notes)
    code, out, err = _run(cli, folder, tmp_path)
    assert code == 0, err
    assert "'q2'" in out + err


# --- case 11: cells that used to be internal errors --------------------------------


def test_pdf_page_number_in_unicode_digits_is_named(folder, tmp_path, cli):
    page_image("x").save(folder / "doc.pdf")
    _corpus_with(folder, "doc.pdf#page=\u00b2")
    code, _, err = _run(cli, folder, tmp_path)
    _one_named_line(code, err, "corpus.jsonl line 3 (page 'p3'): a PDF page is written 'file.pdf#page=N'")


def test_a_5000_digit_integer_id_is_named(folder, tmp_path, cli):
    corpus = folder / "corpus.jsonl"
    corpus.write_text(corpus.read_text() + '{"_id": ' + "7" * 5000 + ', "image": "pages/p1.png"}\n')
    code, _, err = _run(cli, folder, tmp_path)
    _one_named_line(code, err, "corpus.jsonl line 4: invalid JSON")


def test_a_large_integer_id_is_named(folder):
    corpus = folder / "corpus.jsonl"
    corpus.write_text(corpus.read_text() + '{"_id": ' + "7" * 30 + ', "image": "pages/p1.png"}\n')
    with pytest.raises(TaskDataError, match="corpus.jsonl line 4: integer id out of range"):
        load_task(resolve_task(str(folder)))


def test_json_nested_200000_deep_is_named(folder, tmp_path, cli):
    (folder / "queries.jsonl").write_text("[" * 200_000 + "]" * 200_000 + "\n")
    code, _, err = _run(cli, folder, tmp_path)
    _one_named_line(code, err, "queries.jsonl line 1: invalid JSON (nested too deeply)")


def test_a_lone_surrogate_in_a_query_is_named(folder, tmp_path, cli):
    (folder / "queries.jsonl").write_text(
        '{"_id": "q1", "text": "zebra \\ud800"}\n{"_id": "q2", "text": "lava"}\n'
    )
    code, _, err = _run(cli, folder, tmp_path)
    _one_named_line(
        code, err, "queries.jsonl line 1 (query 'q1') field 'text': the text contains a lone surrogate"
    )


def test_a_300_character_file_name_is_named(folder, tmp_path, cli):
    _corpus_with(folder, "pages/" + "a" * 300 + ".png")
    code, _, err = _run(cli, folder, tmp_path)
    _one_named_line(code, err, "corpus.jsonl line 3 (page 'p3'): image file")


def test_a_nested_language_list_in_task_toml_is_named(folder, tmp_path, cli):
    (folder / "task.toml").write_text('languages = [["en"]]\n')
    code, _, err = _run(cli, folder, tmp_path)
    _one_named_line(code, err, "task.toml: field 'languages': expected language codes")
    with pytest.raises(SpecError):
        local_folder_spec(folder)


def test_a_huge_pdf_dpi_is_refused(folder):
    (folder / "task.toml").write_text("pdf_dpi = 100000000\n")
    with pytest.raises(SpecError, match="field 'pdf_dpi'"):
        local_folder_spec(folder)


def test_a_gigapixel_profile_page_size_is_refused(cli, capsys):
    with pytest.raises(SystemExit) as exited:  # argparse: usage, then the message
        cli("profile", "--retriever", "bm25-ocr", "--pages", "10", "--page-size", "1000000x1000000")
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "1000000x1000000 is 1,000,000,000,000 pixels, more than" in err
    with pytest.raises(PagebenchError, match="at most 150,000,000 pixels"):
        profile_synthetic([10], None, RunSettings(), width=1_000_000, height=1_000_000, n_queries=1)


# --- case 12: ids checked where they are read ---------------------------------------


@pytest.mark.parametrize(
    ("page_id", "problem"),
    [
        ("p 3", "contains whitespace"),
        (" p3", "leading or trailing whitespace"),
        ("p3\t", "leading or trailing whitespace"),
        ("p\u00a03", "contains whitespace"),
        ("p\x073", "control character"),
        ("p" * 201, "characters long"),
        ("", "is empty"),
    ],
)
def test_a_bad_page_id_is_named_with_file_and_line_at_load(folder, page_id, problem):
    records = [{"_id": p, "image": f"pages/{p}.png", "text": t} for p, t in PAGES.items()]
    records[2]["_id"] = page_id  # p3: never judged, so never ranked above the others
    write_jsonl(folder / "corpus.jsonl", records)
    with pytest.raises(TaskDataError, match=r"corpus.jsonl line 3: id .* " + problem):
        load_task(resolve_task(str(folder)))


def test_a_bad_query_id_is_named(folder):
    write_jsonl(folder / "queries.jsonl", [{"_id": "q1", "text": "zebra"}, {"_id": "q 2", "text": "lava"}])
    with pytest.raises(TaskDataError, match=r"queries.jsonl line 2: id 'q 2' contains whitespace"):
        load_task(resolve_task(str(folder)))


# --- case 14: the fingerprint covers page content and pdf_dpi -----------------------


def test_same_ids_with_other_pages_have_another_fingerprint(folder):
    before = load_task(resolve_task(str(folder))).fingerprint
    page_image("something else entirely").save(folder / "pages" / "p3.png")
    after = load_task(resolve_task(str(folder))).fingerprint
    assert before != after
    records = [{"_id": p, "image": f"pages/{p}.png", "text": t} for p, t in PAGES.items()]
    records[2]["text"] = "other words"
    write_jsonl(folder / "corpus.jsonl", records)
    assert load_task(resolve_task(str(folder))).fingerprint not in (before, after)


def test_pdf_dpi_enters_the_fingerprint(folder):
    before = load_task(resolve_task(str(folder))).fingerprint
    (folder / "task.toml").write_text('name = "my-docs"\npdf_dpi = 200\n')
    assert load_task(resolve_task(str(folder))).fingerprint != before


def test_check_says_not_comparable_when_the_pages_differ(folder, tmp_path, cli):
    code, _, err = cli(
        "run", "--task", folder, "--retriever", "bm25-ocr", "--output-dir", tmp_path / "a", "--no-progress"
    )
    assert code == 0, err
    records = [{"_id": p, "image": f"pages/{p}.png", "text": t} for p, t in PAGES.items()]
    records[0]["text"] = "nothing about animals"
    write_jsonl(folder / "corpus.jsonl", records)
    page_image("nothing about animals").save(folder / "pages" / "p1.png")
    code, _, err = cli(
        "run", "--task", folder, "--retriever", "bm25-ocr", "--output-dir", tmp_path / "b", "--no-progress"
    )
    assert code == 0, err
    code, out, err = cli(
        "check", "--baseline", tmp_path / "a" / "bm25-ocr", "--current", tmp_path / "b" / "bm25-ocr"
    )
    assert code == 2, out + err
    assert "different data" in out + err


@pytest.mark.parametrize(
    ("spec_line", "field"), [('split = "../../outside/x"', "split"), ('path = "/etc"', "path")]
)
def test_a_task_toml_cannot_send_the_loader_outside_the_folder(folder, spec_line, field):
    (folder / "task.toml").write_text(spec_line + "\n")
    with pytest.raises(SpecError, match=f"task.toml: field '{field}'"):
        local_folder_spec(folder)
