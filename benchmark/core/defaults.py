"""Every default and every list of choices, written once.

The command line, the run settings, the retrievers and the reports import them from
here, so `--help`, the Python API and the README cannot disagree.
"""

from __future__ import annotations

from benchmark.core.vocabulary import DEFAULT_METRIC

# --- running -----------------------------------------------------------------------------
TOP_K = 100  # pages kept per query: enough for every @k metric
BATCH_SIZE = 16  # pages (and queries) per model batch
LATENCY_QUERIES = 200  # queries timed one by one for the latency percentiles
LATENCY_WARM_UP = 2  # queries run, untimed, before them
QUERY_CHUNK = 64  # queries per search call: granularity of progress and of sharding
RANDOM_SEED = 0
ON_BAD_PAGE = ("fail", "skip")  # the first is the default
# Runs go to runs/ (ignored by git); results/ holds the committed baselines, written on
# purpose with --output-dir results, and is what the leaderboard reads by default.
OUTPUT_DIR = "runs"
RESULTS_DIR = "results"

# --- models ------------------------------------------------------------------------------
DEVICES = ("auto", "cuda", "mps", "cpu")  # and cuda:N for one GPU of several
DTYPES = ("auto", "bfloat16", "float16", "float32")
SCORING_DTYPES = ("float32", "bfloat16")  # what the engine stores page vectors in
SCORING_DTYPE_CHOICES = ("auto", *SCORING_DTYPES)
POOL_FACTOR = 1  # token pooling off

# --- tasks -------------------------------------------------------------------------------
MAIN_SCORE = DEFAULT_METRIC  # a spec's main_score when it names none
PDF_DPI = 144  # local folders: resolution PDF pages are rendered at

# --- profile -----------------------------------------------------------------------------
PROFILE_PAGE_SIZE = "827x1170"  # A4 at 100 DPI
PROFILE_QUERIES = 50

# --- reports -----------------------------------------------------------------------------
CHECK_TOLERANCE = 0.005  # largest fall `pagebench check` lets pass
SIGNIFICANCE_ALPHA = 0.05
RESAMPLES = 10_000  # bootstrap and randomisation draws
MAX_RESAMPLES = 10_000_000  # the bootstrap keeps one float per draw: 80 MB at most
STATISTICS_SEED = 0
LEADERBOARD_FILE = "leaderboard.md"
REPORT_WORST_QUERIES = 20  # `pagebench report`: worst queries shown per task
REPORT_FILE = "report.html"
