"""The results file: one typed model (schema.py) with its migrations, built from a run
(document.py), written beside its TREC run (writer.py) and read back, validated, by
every report (reader.py); plus what it was measured with (environment.py)."""
