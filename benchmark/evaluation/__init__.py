"""From a retriever's run to numbers: entries merged into ranked pages, IR metrics
(pytrec_eval), and paired significance tests between runs."""
