"""The list of surfaces tools/fuzz.py drives, on two exported tiny taggers (WordPiece, SentencePiece)."""
from __future__ import annotations

import os

from export.saved_model import export_saved_model
from export.tflite import export_tflite
from tagger.data.corpus import read_conllu, read_two_column
from tagger.models.tagger import load_model_dir
from tagger.runtime.saved_model import SavedModelTagger, latest_saved_model
from tools import fuzz_inputs as gen
from tools import tiny_models
from tools.fuzz_checks import (Surface, encode_text_check, encode_words_check, random_ids, reader_check,
                               serving_default_check, tag_ids_check, tag_words_check, tflite_check)
from tools.fuzz_predict import conllu_words, predict_conllu_check, predict_text_check


def prepared_models(work_dir: str, wordpiece: str | None, sentencepiece: str | None) -> dict[str, str]:
    """{tokenizer kind: model dir}, training the tiny sample taggers when none is given, exported."""
    if not wordpiece and not os.path.exists(os.path.join(work_dir, "wordpiece", "model", "checkpoints")):
        tiny_models.wordpiece_tagger(os.path.join(work_dir, "wordpiece"))
    if not sentencepiece and not os.path.exists(os.path.join(work_dir, "sentencepiece", "model", "checkpoints")):
        spm_file = tiny_models.train_tiny_spm(os.path.join(work_dir, "spm"))
        tiny_models.sentencepiece_tagger(os.path.join(work_dir, "sentencepiece"), spm_file)
    models = {"wordpiece": wordpiece or os.path.join(work_dir, "wordpiece", "model"),
              "sentencepiece": sentencepiece or os.path.join(work_dir, "sentencepiece", "model")}
    for model_dir in models.values():
        try:
            latest_saved_model(model_dir)
        except ValueError:
            export_saved_model(model_dir, verbose=False)
        if not os.path.exists(os.path.join(model_dir, "export", "tagger_dynamic_int8.tflite")):
            export_tflite(model_dir, "dynamic_int8", verbose=False)
    return models


def build_surfaces(work_dir: str, wordpiece: str | None = None, sentencepiece: str | None = None,
                   only: list[str] | None = None) -> list[Surface]:
    scratch = os.path.join(work_dir, "scratch")
    os.makedirs(scratch, exist_ok=True)
    surfaces = [Surface("conllu_reader", gen.conllu_file, reader_check(read_conllu, scratch, "xx_fuzz-ud-test.conllu"), 1),
                Surface("two_column_reader", gen.two_column_file, reader_check(read_two_column, scratch, "fuzz.txt"), 1)]
    wanted = lambda name: not only or name in only  # noqa: E731
    if only and all(name.endswith("_reader") for name in only):
        return [s for s in surfaces if wanted(s.name)]
    for kind, model_dir in prepared_models(work_dir, wordpiece, sentencepiece).items():
        _, tokenizer, config = load_model_dir(model_dir)
        labels = config["tasks"]
        saved_model = SavedModelTagger(model_dir)
        tflite = os.path.join(model_dir, "export", "tagger_dynamic_int8.tflite")
        surfaces += [
            Surface(f"encode_words[{kind}]", gen.words, encode_words_check(tokenizer)),
            Surface(f"encode_text[{kind}]", gen.text, encode_text_check(tokenizer)),
            Surface(f"saved_model.serving_default[{kind}]", gen.text, serving_default_check(saved_model, labels)),
            Surface(f"saved_model.tag_words[{kind}]", gen.words, tag_words_check(saved_model, labels)),
            Surface(f"saved_model.tag_ids[{kind}]", random_ids(tokenizer.vocab_size, tokenizer.max_seq_length),
                    tag_ids_check(saved_model, tokenizer, labels)),
            Surface(f"tflite_dynamic_int8[{kind}]", gen.text, tflite_check(tflite, labels)),
            Surface(f"predict.text[{kind}]", gen.text_line, predict_text_check(tflite, scratch), 500),
            Surface(f"predict.conllu[{kind}]", conllu_words, predict_conllu_check(tflite, scratch), 500)]
    return [s for s in surfaces if wanted(s.name)]
