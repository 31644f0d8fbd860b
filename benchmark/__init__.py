"""pagebench: evaluation suite for visual document retrieval.

The import name is ``benchmark``; the command is ``pagebench``. Data flows one way:
task spec -> loader -> TaskData -> retriever (index, search) -> run -> metrics ->
TaskResult -> results files.

From Python, `evaluate` runs what `pagebench run` runs and returns typed results:

    from benchmark import evaluate

    evaluation = evaluate("bm25-ocr", "debian-faq-en")   # or a Retriever, or any encoder object
    print(evaluation.scores())                            # {"debian-faq-en": 0.84...}

The public names are imported on first use, so `import benchmark` (and listing tasks or
retrievers) loads neither torch nor datasets.
"""

__version__ = "0.1.0"

# public name -> the module that defines it, imported when the name is first used (not even
# under TYPE_CHECKING: the lower layers import this package for __version__, and the
# import-linter contract would see them reach up into `run` through it)
_PUBLIC = {
    "evaluate": "benchmark.run.api",
    "Evaluation": "benchmark.run.api",
    "EncoderRetriever": "benchmark.retrievers.encoder",
    "Retriever": "benchmark.retrievers.base",
    "RetrieverOptions": "benchmark.retrievers.base",
    "TaskSpec": "benchmark.tasks.spec",
    "PagebenchError": "benchmark.core.errors",
}
__all__ = [
    "EncoderRetriever",
    "Evaluation",
    "PagebenchError",
    "Retriever",
    "RetrieverOptions",
    "TaskSpec",
    "__version__",
    "evaluate",
]


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'benchmark' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value  # imported once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
