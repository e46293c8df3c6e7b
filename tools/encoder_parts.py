"""The tagger's encoder cut into its parts, each a concrete function with the input it sees for one sentence.

Model Garden's BertEncoderV2 runs, in order:

  embeddings      word + position + type embeddings, layer norm, projection to the hidden size
  attention_<i>   layer i's multi-head self-attention, residual, layer norm
  feed_forward_<i> layer i's dense, activation, dense, residual, layer norm

and the tagger's task heads follow (`heads`, on every piece, as `tag_ids` runs them). LiteRT's Python
wheel has no per-op profiler, so `tools/profile_tflite.py` converts and times each part as its own
TFLite model. The cut reads the encoder's sub-layers, which Model Garden keeps private, so it covers
the post-LN BertEncoderV2 of the students and the e5 teacher and refuses anything else; `check_parts`
proves the composed parts give the encoder's own output.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from tagger.data.tokenizer import MODEL_INPUTS


def _require_post_ln_bert(encoder) -> list:
    layers = getattr(encoder, "_transformer_layers", None)
    if layers is None or getattr(encoder, "_embedding_layer", None) is None:
        raise ValueError(f"encoder parts: {type(encoder).__name__} is not Model Garden's BertEncoderV2")
    if any(layer._norm_first or not layer._use_query_residual for layer in layers):
        raise ValueError("encoder parts: only post-LN layers with a query residual (BERT's own) are cut")
    return layers


def part_functions(model) -> list[tuple[str, tf.types.experimental.ConcreteFunction]]:
    """`[(part name, concrete function)]` in the order the encoder runs them. Inputs by name:
    `embeddings` takes the window features, each attention part `hidden` and `attention_mask`,
    each feed-forward part and `heads` take `hidden`. Every part but `heads` returns `hidden`
    (and `embeddings` also `attention_mask`); `heads` returns `{task: logits}`."""
    encoder = model.encoder
    layers = _require_post_ln_bert(encoder)
    width = encoder.get_config()["hidden_size"]
    ids = tf.TensorSpec([None, None], tf.int32)
    hidden_spec = tf.TensorSpec([None, None, width], tf.float32, name="hidden")
    mask_spec = tf.TensorSpec([None, None, None], tf.float32, name="attention_mask")

    @tf.function(input_signature=[ids, ids, ids])
    def embeddings(input_word_ids, input_mask, input_type_ids):
        words = encoder._embedding_layer(input_word_ids)
        hidden = encoder._embedding_norm_layer(encoder._get_embeddings(input_word_ids, input_type_ids, words,
                                                                       None, None))
        if encoder._embedding_projection is not None:
            hidden = encoder._embedding_projection(hidden)
        return {"hidden": hidden, "attention_mask": encoder._attention_mask_layer(hidden, input_mask)}

    def attention(layer):
        @tf.function(input_signature=[hidden_spec, mask_spec])
        def run(hidden, attention_mask):
            attended = layer._attention_layer(query=hidden, key=hidden, value=hidden, attention_mask=attention_mask)
            return {"hidden": layer._attention_layer_norm(hidden + attended)}
        return run

    def feed_forward(layer):
        @tf.function(input_signature=[hidden_spec])
        def run(hidden):
            inner = layer._intermediate_activation_layer(layer._intermediate_dense(hidden))
            return {"hidden": layer._output_layer_norm(layer._output_dense(inner) + hidden)}
        return run

    @tf.function(input_signature=[hidden_spec])
    def heads(hidden):
        return {task: head(hidden) for task, head in model.heads.items()}

    parts = [("embeddings", embeddings)]
    for i, layer in enumerate(layers):
        parts += [(f"attention_{i}", attention(layer)), (f"feed_forward_{i}", feed_forward(layer))]
    parts.append(("heads", heads))
    return [(name, function.get_concrete_function()) for name, function in parts]


def part_inputs(parts, features: dict) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """Each part's input (numpy, by argument name) for one batch of window `features`, found by running
    the parts in TF one after another; and the heads' logits at the end."""
    state = {name: np.asarray(features[name], np.int32) for name in MODEL_INPUTS}
    inputs = {}
    for name, function in parts:
        wanted = [spec.name for spec in function.structured_input_signature[0]]
        inputs[name] = {key: state[key] for key in wanted}
        outputs = {key: value.numpy() for key, value in function(*[tf.constant(inputs[name][key])
                                                                    for key in wanted]).items()}
        state.update(outputs)
    return inputs, outputs


def check_parts(model, parts, features: dict, atol: float = 1e-4) -> float:
    """Largest absolute difference between the composed parts' logits and the model's own; raises
    past `atol`, so a cut that drifts from Model Garden's layer is caught before anything is timed."""
    _, logits = part_inputs(parts, features)
    reference = model({name: tf.constant(np.asarray(features[name], np.int32)) for name in MODEL_INPUTS})
    worst = max(float(np.max(np.abs(logits[task] - reference[task].numpy()))) for task in reference)
    if not worst <= atol:
        raise ValueError(f"encoder parts: composed logits differ from the model's by {worst:g} (> {atol:g})")
    return worst
