"""ColModernVBert: ColPali's late interaction on ModernVBert (a SigLIP vision tower
feeding a bidirectional ModernBERT encoder), through transformers' own
ColModernVBertForRetrieval and ColModernVBertProcessor.

The processor's query path adds the query augmentation tokens, its image path the
visual prompt, as for ColPali; the encoder is bidirectional, so right padding with
the attention mask leaves each item's vectors independent of the batch.
pagebench models no official retriever's arithmetic for this family, so
`--protocol vidore` keeps pagebench's own.
"""

from __future__ import annotations

from benchmark.retrievers.colpali import ColPaliRetriever


class ColModernVBertRetriever(ColPaliRetriever):
    name = "colmodernvbert"
    default_checkpoint = "ModernVBERT/colmodernvbert-merged"
    model_type = "colmodernvbert"
    model_class = "ColModernVBertForRetrieval"
    processor_class = "ColModernVBertProcessor"
    official_dtype = None
    official_similarity = None
