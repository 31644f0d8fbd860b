"""The shape the README's layout section promises, checked where a test can check it.
(The layers and the absence of import cycles are checked by import-linter in .ci/run.)"""

import dataclasses
import typing
from pathlib import Path

import pytest

import benchmark
from benchmark.core import types
from benchmark.retrievers.base import EncodedQueries, RetrieverOptions
from benchmark.run.settings import RunSettings
from benchmark.tasks.data import TaskData
from benchmark.tasks.spec import TaskSpec

PACKAGE = Path(benchmark.__file__).parent
MAX_MODULE_LINES = 400


@pytest.mark.parametrize(
    "cls",
    [
        TaskData,
        TaskSpec,
        types.Corpus,
        types.Query,
        types.PageBatch,
        RunSettings,
        RetrieverOptions,
        EncodedQueries,
    ],
    ids=lambda cls: cls.__name__,
)
def test_data_types_resolve_their_annotations(cls):
    """Every annotation of the data that flows between layers resolves at run time, so
    typed-schema tools can describe it (this raised NameError on 'TaskSpec' before)."""
    hints = typing.get_type_hints(cls)
    assert {field.name for field in dataclasses.fields(cls)} <= set(hints)


def test_no_module_is_over_400_lines():
    sizes = {
        str(path.relative_to(PACKAGE)): len(path.read_text(encoding="utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES} == {}


def test_every_layer_is_a_package_with_a_docstring():
    """The README's layout map names these folders; each says what it owns."""
    for layer in (
        "core",
        "tasks",
        "engine",
        "evaluation",
        "measure",
        "retrievers",
        "feed",
        "results",
        "run",
        "report",
        "cli",
    ):
        init = PACKAGE / layer / "__init__.py"
        assert init.is_file(), layer
        assert init.read_text(encoding="utf-8").lstrip().startswith('"""'), layer
