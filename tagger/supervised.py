"""Supervised training of a tagger on labelled data, and evaluating one: the library behind
`tagger.finetune` and `tagger.evaluate`."""
from __future__ import annotations

import math
import os

import tensorflow as tf

from tagger import metrics as metrics_lib
from tagger.data import pipeline
from tagger.data.corpus import Sentence, read_corpus, tasks_present
from tagger.data.labels import build_label_lists
from tagger.data.tokenizer import PieceTokenizer
from tagger.data.tokenizer_files import build_tokenizer
from tagger.inference import WordTagger
from tagger.models.encoders import LoadedEncoder
from tagger.models.init import load_init
from tagger.models.tagger import Tagger, checkpoint_dir, make_config, prepare_model_dir, write_json_atomic
from tagger.training import TrainState, create_optimizer, tagging_loss, train


def read_labeled(train_data: str, tasks: list[str] | None, data_format: str = "auto"
                 ) -> tuple[list[Sentence], dict[str, list[str]]]:
    """Training sentences and their label lists (tasks default to those present)."""
    sentences = read_corpus(train_data, data_format)
    tasks = tasks or tasks_present(sentences)
    return sentences, build_label_lists(sentences, tasks)


def new_tagger_dir(model_dir: str, loaded: LoadedEncoder, tokenizer_file: str,
                   label_lists: dict[str, list[str]], init: str, lower_case: bool | None,
                   max_seq_length: int, **extra) -> tuple[Tagger, PieceTokenizer]:
    """Builds the tagger on a loaded encoder and writes (or checks) MODEL_DIR's config and tokenizer."""
    tokenizer = build_tokenizer(tokenizer_file, lower_case=lower_case, max_seq_length=max_seq_length)
    config = make_config(loaded.config, label_lists, tokenizer, init, **extra)
    prepare_model_dir(model_dir, config, tokenizer, tokenizer_file)
    return Tagger(loaded.encoder, label_lists).build_variables(), tokenizer


# Peak learning rates measured best for one epoch on labels (BENCHMARKS.md section 1): small
# encoders (MiniLM-L6, hidden 384) want 1.5e-4 for one head and 3e-4 for several (UPOS + UFeats:
# UPOS 96.48 at 3e-4 against 96.29 at 1.5e-4); BERT-base-sized ones the usual 5e-5.
SMALL_ENCODER_LEARNING_RATE = 1.5e-4
SMALL_ENCODER_MULTI_TASK_LEARNING_RATE = 3e-4
BASE_ENCODER_LEARNING_RATE = 5e-5


def default_learning_rate(encoder_config: dict, num_tasks: int = 1) -> float:
    """The learning rate when none is given, from the encoder's size and the number of heads."""
    if encoder_config.get("type") == "bert" and encoder_config["hidden_size"] < 768:
        return SMALL_ENCODER_MULTI_TASK_LEARNING_RATE if num_tasks > 1 else SMALL_ENCODER_LEARNING_RATE
    return BASE_ENCODER_LEARNING_RATE


def steps_for(num_windows: int, batch_size: int, epochs: float, train_steps: int) -> int:
    return train_steps if train_steps > 0 else max(1, math.ceil(epochs * num_windows / batch_size))


def train_on_labels(model: Tagger, tokenizer: PieceTokenizer, sentences: list[Sentence],
                    label_lists: dict[str, list[str]], directory: str, strategy: tf.distribute.Strategy, *,
                    batch_size: int, learning_rate: float, epochs: float = 1.0, train_steps: int = 0,
                    seed: int = 0, checkpoint_every: int = 200, summary_dir: str | None = None,
                    description: str = "finetune", variables=None, optimizer=None, step=None,
                    treebank_alpha: float = 1.0, row_sparse: bool = False) -> int:
    """Cross-entropy training on labelled windows; returns the number of steps.

    `treebank_alpha` < 1 draws small treebanks more often than their size (`pipeline.treebank_probabilities`).
    `row_sparse` applies the word-embedding table's gradient to the batch's rows only (`create_optimizer`).
    """
    encoded = pipeline.encode_labeled(tokenizer, sentences, label_lists)
    total = steps_for(int(encoded["input_word_ids"].nrows()), batch_size, epochs, train_steps)
    treebanks = pipeline.window_treebanks(encoded, sentences)
    if pipeline.samples_treebanks(treebanks, treebank_alpha):
        describe_treebank_sampling(sentences, treebanks, treebank_alpha)

    def dataset_fn(input_context):
        return pipeline.labeled_dataset(encoded, batch_size, training=True, seed=seed, pad_id=tokenizer.pad_id,
                                        input_context=input_context, treebanks=treebanks,
                                        treebank_alpha=treebank_alpha)

    def loss_fn(batch):
        return tagging_loss(batch, model(batch, training=True))

    with strategy.scope():
        optimizer = optimizer or create_optimizer(learning_rate, total, row_sparse=row_sparse)
        step = step if step is not None else tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    train(TrainState(directory, model, optimizer, step), strategy, dataset_fn, loss_fn, total,
          variables=variables, checkpoint_every=checkpoint_every, summary_dir=summary_dir, description=description)
    return total


def describe_treebank_sampling(sentences: list[Sentence], treebanks, alpha: float) -> None:
    """Logs how treebank sampling changes the smallest and the largest treebank's share of the batches."""
    names = sorted({s.treebank for s in sentences})
    counts = [int((treebanks == i).sum()) for i in range(len(names))]
    shares = pipeline.treebank_probabilities(counts, alpha)
    for label, i in (("smallest", counts.index(min(counts))), ("largest", counts.index(max(counts)))):
        print(f"[finetune] treebank sampling alpha={alpha:g} over {len(names)} treebanks: {label}, {names[i]}, "
              f"{100 * shares[i]:.2f}% of the windows drawn ({100 * counts[i] / sum(counts):.2f}% of the data)")


def evaluate(model: Tagger, tokenizer: PieceTokenizer, label_lists: dict[str, list[str]],
             sentences: list[Sentence], split: str, batch_size: int = 64) -> dict:
    """Scores per treebank (schema of ARCHITECTURE.md, "Model directory")."""
    predictions = WordTagger(model, tokenizer, label_lists, batch_size).tag([s.words for s in sentences])
    return metrics_lib.score(sentences, predictions, split)


def evaluate_splits(model_dir: str, model: Tagger, tokenizer: PieceTokenizer,
                    label_lists: dict[str, list[str]], splits: dict[str, str | None], data_format: str = "auto",
                    prefix: str = "", verbose: bool = True, batch_size: int = 64) -> dict[str, dict]:
    """Evaluates on each `{name: globs}` and writes MODEL_DIR/metrics/<prefix><name>.json."""
    results = {}
    for name, data in splits.items():
        if not data:
            continue
        result = evaluate(model, tokenizer, label_lists, read_corpus(data, data_format), name, batch_size)
        write_json_atomic(os.path.join(model_dir, "metrics", f"{prefix}{name}.json"), result)
        if verbose:
            print(f"\n== {prefix}{name} ({data})\n{metrics_lib.format_table(result)}")
        results[name] = result
    return results


def finetune(model_dir: str, init: str, train_data: str, *, strategy: tf.distribute.Strategy,
             dev_data: str | None = None, test_data: str | None = None, tasks: list[str] | None = None,
             data_format: str = "auto", vocab_file: str | None = None, lower_case: bool | None = None,
             max_seq_length: int = 128, batch_size: int = 16, learning_rate: float | None = None, epochs: float = 1.0,
             train_steps: int = 0, seed: int = 0, checkpoint_every: int = 200,
             freeze_word_embeddings: bool = False, sparse_embedding_updates: bool = False,
             treebank_sampling: float = 1.0) -> dict[str, dict]:
    """The whole `tagger.finetune` job: init, train (resumable), evaluate, write metrics.

    `freeze_word_embeddings` leaves the encoder's word-embedding table out of training: on CPU the
    dense Adam update of a large multilingual table (96M entries for multilingual-e5) costs more
    than the rest of the step; `sparse_embedding_updates` trains the table, one step updating only
    the rows its batch uses. `treebank_sampling` is `train_on_labels`' `treebank_alpha` (1: the data's own
    mix, which `tagger.distill`'s teacher keeps; `tagger.finetune` defaults to 0.5, BENCHMARKS.md §8).
    """
    sentences, label_lists = read_labeled(train_data, tasks, data_format)
    for data in (dev_data, test_data):  # a bad --dev_data/--test_data fails now, not after the training
        if data:
            read_corpus(data, data_format)
    with strategy.scope():
        loaded, vocab = load_init(init, vocab_file)
        model, tokenizer = new_tagger_dir(model_dir, loaded, vocab, label_lists, init, lower_case, max_seq_length,
                                          dev_data=dev_data, test_data=test_data)
    if learning_rate is None:
        learning_rate = default_learning_rate(loaded.config, len(label_lists))
        print(f"[finetune] learning rate {learning_rate:g}, chosen for a {loaded.config['type']} encoder of "
              f"hidden size {loaded.config.get('hidden_size', '?')} with {len(label_lists)} task head(s) "
              f"({', '.join(label_lists)}); pass --learning_rate to override")
    variables = None
    if freeze_word_embeddings:
        frozen = model.encoder.get_embedding_table().ref()
        variables = lambda: [v for v in model.trainable_variables if v.ref() != frozen]  # noqa: E731
    train_on_labels(model, tokenizer, sentences, label_lists, checkpoint_dir(model_dir), strategy,
                    batch_size=batch_size, learning_rate=learning_rate, epochs=epochs, train_steps=train_steps,
                    seed=seed, checkpoint_every=checkpoint_every, summary_dir=os.path.join(model_dir, "logs"),
                    variables=variables, treebank_alpha=treebank_sampling, row_sparse=sparse_embedding_updates)
    return evaluate_splits(model_dir, model, tokenizer, label_lists,
                           {"dev": dev_data, "test": test_data}, data_format)
