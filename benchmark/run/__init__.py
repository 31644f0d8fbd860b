"""Running an evaluation: settings, one task (evaluate.py), the local and sharded
indexers, the multi-task session with its failure policy, and `pagebench profile`."""
