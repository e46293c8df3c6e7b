"""The teacher's top-k logits at every word of the labelled training text (the labels_kd recipe).

Soft targets on unlabeled text take label steps away from the student; on the labelled sentences
they ride along with the labels, in the same step (Hinton et al.'s mixture of soft and hard
targets). The teacher tags each training sentence once, with its own tokenizer, at each word's
first piece; `pipeline.encode_labeled(word_features=...)` then places those rows at the student's
first piece of the same word, so the two vocabularies may differ.

`compute` returns, per task, `teacher_top_values_<task>` `float32 [words, k]` and
`teacher_top_ids_<task>` `int32 [words, k]` over all words of all sentences, in order, plus
`teacher_word_mask` `int32 [words]` (all ones: it marks where the rows land). `load_or_compute`
keeps them in the student's model directory, so a resumed run does not tag the text again.
"""
from __future__ import annotations

import json
import os

import numpy as np
import tensorflow as tf

from tagger.data.tokenizer import PieceTokenizer
from tagger.distill.teacher_cache import ids_key, values_key
from tagger.inference import WORDS_SPEC, per_sentence, ragged_words, word_logits
from tagger.runtime.batching import tag_in_batches

FILE = "teacher_label_targets.npz"
WORD_MASK = "teacher_word_mask"


def compute(teacher, tokenizer: PieceTokenizer, sentences: list[list[str]], top_k: int,
            batch_size: int = 64, log=print) -> dict[str, np.ndarray]:
    """The teacher's top-k per word, in input word order (sentences run sorted by length); `sentences`
    must not be empty."""
    tasks = list(teacher.tasks)
    k = {task: min(top_k, int(teacher.heads[task].units)) for task in tasks}

    @tf.function(input_signature=[WORDS_SPEC])
    def top(words):
        logits = word_logits(teacher, tokenizer.encode_words(words))
        out = {}
        for task in tasks:
            best = tf.math.top_k(tf.cast(logits[task], tf.float32), k=k[task])
            out[values_key(task)], out[ids_key(task)] = best.values, best.indices
        return out

    def run(batch):
        return per_sentence({name: value.numpy() for name, value in top(ragged_words(batch)).items()}, batch)

    log(f"[labels_kd] the teacher tags the {len(sentences)} training sentences")
    rows = tag_in_batches(sentences, batch_size, run)
    result = {name: np.concatenate([row[name] for row in rows]) for name in rows[0]}
    result[WORD_MASK] = np.ones([sum(map(len, sentences))], np.int32)
    return result


def load_or_compute(model_dir: str, source: str, teacher, tokenizer: PieceTokenizer,
                    sentences: list[list[str]], top_k: int, log=print) -> dict[str, np.ndarray]:
    """`compute`, kept in `model_dir/teacher_label_targets.npz` and reused while `source`,
    `top_k` and the word count match (a different teacher or text computes them again)."""
    path = os.path.join(model_dir, FILE)
    stamp = json.dumps({"source": source, "top_k": top_k, "words": int(sum(map(len, sentences)))}, sort_keys=True)
    if os.path.exists(path):
        with np.load(path) as saved:
            if str(saved["stamp"]) == stamp:
                log(f"[labels_kd] reusing the teacher's targets in {path}")
                return {name: saved[name] for name in saved.files if name != "stamp"}
    targets = compute(teacher, tokenizer, sentences, top_k, log=log)
    scratch = path + ".tmp.npz"  # written whole, then renamed: a kill never leaves half a file
    np.savez(scratch, stamp=np.array(stamp), **targets)
    os.replace(scratch, path)
    return targets
