"""How pages reach a retriever: batches of decoded images or page text (OCR where the
task ships none), bad pages failed or skipped, and the on-disk caches of OCR text and
page embeddings (with resume after a crash)."""
