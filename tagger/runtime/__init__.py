"""Running a tagger, whatever form it takes: one interface over the three backends.

Every backend has `tasks`, `tag_text(sentences: list[str|bytes])` and (checkpoint and SavedModel)
`tag_words(sentences: list[list[str]])`, each returning one dict per sentence: `words`, a tag list
per task, `upos_second_best` when the model tags UPOS, and for raw text `word_starts`/`word_ends`
(UTF-8 byte offsets). All batch through `batching.tag_in_batches`.

  CheckpointTagger   a model directory's latest checkpoint (TF, in memory)
  SavedModelTagger   an exported SavedModel (`tagger.runtime.saved_model`)
  TFLiteTagger       an exported .tflite, tokenizer in the graph (`tagger.runtime.tflite`)

`backends.load_backend(path)` picks the backend from what the path holds. This package module
imports nothing, so `tagger.runtime.tflite` runs with LiteRT alone where TensorFlow is absent.
"""
