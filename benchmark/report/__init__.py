"""What people read: terminal tables, the efficiency block in words, the leaderboard
and its plots, `compare` (paired significance per task) and `check` (the CI gate).
Reads results files through `benchmark.results`; computes no metric itself."""
