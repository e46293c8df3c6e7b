"""Tags raw text or CoNLL-U with a model directory, an exported SavedModel or a .tflite.

  python -m tagger.predict --model=runs/en_upos --input=news.txt --output=news.conllu
  python -m tagger.predict --model=runs/en_upos/export/tagger_dynamic_int8.tflite --input=- --output=-
  python -m tagger.predict --model=runs/en_upos/export/saved_model --input=dev.conllu --output=tagged.conllu
  python -m tagger.predict --model=runs/en_upos --input=article.txt --input_format=document --output=-

Raw text (`.txt`, or anything that is not CoNLL-U): one sentence per line. The
model splits each line into words (BERT's split: whitespace, punctuation, CJK
characters) and writes one CoNLL-U sentence per input line, in order, with
`# sent_id = <line number>` and `# text = <line>`; ID, FORM, UPOS, FEATS (when
the model tags ufeats) and MISC (`NER=<tag>` when it tags ner, and
`SpaceAfter=No` where the line has no space after a word) are filled, the other
columns are `_`. An empty or whitespace-only line gives a sentence with its two
comments, `# empty_line`, and no words: nothing is dropped, and sentence N of
the output is always line N of the input.

Raw documents (`--input_format=document`): running text, paragraphs on lines. Each line is cut
into sentences after sentence-final punctuation (`tagger.data.sentence_split`, the rule of
tools/make_shards.py); sentence K of line N gets `# sent_id = N-K`. Blank lines separate paragraphs
and give no sentence.

CoNLL-U: the input is checked first (tagger.data.corpus.read_conllu; untagged
`_` UPOS is fine), then every column and comment is kept except UPOS, FEATS
and MISC's `NER=` entry, which are overwritten for the tasks the model has.
Multiword-token lines and empty nodes are kept untouched; syntactic words are
tagged. A .tflite model takes raw text only: each sentence goes in as its words
joined by spaces, and where the model splits a token further (e.g. "U.S."),
the token takes the tags of its first piece (a warning counts such sentences).

A class the model never learned (`<unk>`) is written as the second-best UPOS
(or X), `_` FEATS and NER `O`. `--x_to_second_best` applies Tsai et al. (2019)
§4.5 for code-mixed text: a word whose best UPOS is X gets its second best.
"""
from __future__ import annotations

import io
import os
import sys
import tempfile

from absl import flags

import tagger  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
from tagger import cli
from tagger.data.corpus import DataError, read_conllu, read_text_lines
from tagger.data.sentence_split import split_sentences
from tagger.runtime.backends import load_backend

FLAGS = flags.FLAGS


def define_flags():
    """Flags of the binary (defined only when run as one, so tests and tools can import `predict`)."""
    flags.DEFINE_string("model", None, "A model directory, a SavedModel (version dir or its base path), or a .tflite.")
    flags.DEFINE_string("input", "-", "Input file (.conllu or raw text, one sentence per line); '-' for stdin.")
    flags.DEFINE_string("output", "-", "Output CoNLL-U file; '-' for stdout.")
    flags.DEFINE_enum("input_format", "auto", ["auto", "text", "document", "conllu"],
                      "text: one sentence per line; document: running text, each line cut into sentences after "
                      "sentence-final punctuation; auto: .conllu -> CoNLL-U, .txt -> text, else CoNLL-U if the "
                      "first data line has 10 columns.")
    flags.DEFINE_integer("batch_size", None, "Sentences per batch; default: 8 for a .tflite model (the fastest "
                         "measured on 1 thread), 64 for the TensorFlow ones.")
    flags.DEFINE_bool("x_to_second_best", False, "Tsai et al. (2019) §4.5: replace a best UPOS of X by the 2nd best.")
    flags.DEFINE_integer("num_threads", 1, "TFLite interpreter threads.")
    flags.mark_flags_as_required(["model"])

UNK = "<unk>"
# Sentences read ahead (16 batches, at least 1,024), so batches can be formed from sentences of similar length.
CHUNK_BATCHES, CHUNK_MIN = 16, 1024


def read_ahead(batch_size: int) -> int:
    return max(batch_size * CHUNK_BATCHES, CHUNK_MIN)


# -- tags -> CoNLL-U columns --------------------------------------------------------------

def final_tags(tagged: dict, index: int, x_to_second_best: bool) -> dict[str, str]:
    """UPOS / FEATS / NER strings for word `index`, with `<unk>` and the X rule resolved."""
    second = tagged.get("upos_second_best")
    out = {}
    if "upos" in tagged:
        upos = tagged["upos"][index]
        if upos == UNK or (x_to_second_best and upos == "X"):
            fallback = second[index] if second else ""
            upos = fallback if fallback and fallback != UNK else ("X" if upos == UNK else upos)
        out["upos"] = upos
    if "ufeats" in tagged:
        feats = tagged["ufeats"][index]
        out["ufeats"] = "_" if feats in (UNK, "") else feats
    if "ner" in tagged:
        ner = tagged["ner"][index]
        out["ner"] = "O" if ner in (UNK, "") else ner
    return out


def with_ner(misc: str, ner: str | None) -> str:
    """MISC with its `NER=` entry replaced (other entries and their order kept)."""
    if ner is None:
        return misc
    items = [] if misc in ("_", "") else [item for item in misc.split("|") if not item.startswith("NER=")]
    return "|".join(items + [f"NER={ner}"])


def text_sentence(sent_id: int | str, text: str, tagged: dict, x_to_second_best: bool) -> str:
    """One CoNLL-U sentence for one raw-text sentence."""
    # A carriage return inside the text would end the comment line for text-mode readers.
    lines = [f"# sent_id = {sent_id}", f"# text = {text.replace(chr(13), ' ')}"]
    words = tagged["words"]
    if not words:
        lines.append("# empty_line")
    starts, ends = tagged["word_starts"], tagged["word_ends"]
    for i, word in enumerate(words):
        tags = final_tags(tagged, i, x_to_second_best)
        misc = []
        if "ner" in tags:
            misc.append(f"NER={tags['ner']}")
        if i + 1 < len(words) and ends[i] == starts[i + 1]:
            misc.append("SpaceAfter=No")
        lines.append("\t".join([str(i + 1), word, "_", tags.get("upos", "_"), "_", tags.get("ufeats", "_"),
                                "_", "_", "_", "|".join(misc) or "_"]))
    return "\n".join(lines) + "\n\n"


# -- input ----------------------------------------------------------------------------------

def stdin_to_file(directory: str) -> str:
    path = os.path.join(directory, "stdin")
    with open(path, "wb") as f:
        f.write(sys.stdin.buffer.read())
    return path


def sniff_input(path: str, declared: str, shown: str) -> str:
    if declared != "auto":
        return declared
    if shown.endswith(".conllu"):
        return "conllu"
    if shown.endswith(".txt"):
        return "text"
    for _, line in read_text_lines(path):
        if line.strip() and not line.startswith("#"):
            return "conllu" if line.count("\t") == 9 else "text"
    return "text"


def chunks(items, size: int):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def document_sentences(path: str):
    """(`LINE-K`, text) for sentence K of each line of a raw document; blank lines separate paragraphs."""
    for number, line in read_text_lines(path):
        for k, sentence in enumerate(split_sentences(line), start=1):
            yield f"{number}-{k}", sentence


def tag_text_file(backend, path: str, out, batch_size: int, x_to_second_best: bool, document: bool = False) -> int:
    """One sentence per line (sent_id = line number), or with `document` each line cut into sentences."""
    count = 0
    sentences = document_sentences(path) if document else read_text_lines(path)
    for chunk in chunks(sentences, read_ahead(batch_size)):
        for (sent_id, text), tagged in zip(chunk, backend.tag_text([text for _, text in chunk])):
            out.write(text_sentence(sent_id, text, tagged, x_to_second_best))
            count += 1
    return count


def conllu_sentences(path: str):
    """Each sentence of a (checked) CoNLL-U file as its lines, exactly as written. The `conllu`
    package is not used here: it splits columns on two spaces too, which corrupts such forms."""
    block = []
    for _, line in read_text_lines(path):
        if line.strip():
            block.append(line)
        elif block:
            yield block
            block = []
    if block:
        yield block


def tag_conllu_file(backend, kind: str, path: str, out, batch_size: int, x_to_second_best: bool) -> int:
    read_conllu(path, labeled=False)  # clear file:line errors before anything is written
    inexact = count = 0
    for chunk in chunks(conllu_sentences(path), read_ahead(batch_size)):
        rows = [[line.split("\t") if not line.startswith("#") else None for line in lines] for lines in chunk]
        words = [[cells for cells in sentence if cells and cells[0].isdigit()] for sentence in rows]
        tagged = backend.tag_words([[cells[1] for cells in tokens] for tokens in words])
        for lines, sentence, tokens, result in zip(chunk, rows, words, tagged):
            inexact += result.get("exact", True) is False
            for i, cells in enumerate(tokens):  # syntactic words; ranges, empty nodes, comments as they are
                tags = final_tags(result, i, x_to_second_best)
                cells[3] = tags.get("upos", cells[3])
                cells[5] = tags.get("ufeats", cells[5])
                cells[9] = with_ner(cells[9], tags.get("ner"))
            out.write("".join((line if cells is None else "\t".join(cells)) + "\n"
                              for line, cells in zip(lines, sentence)) + "\n")
            count += 1
    if inexact:
        print(f"warning: in {inexact} of {count} sentences the {kind} model split some tokens further than the "
              f"CoNLL-U does (e.g. 'U.S.' -> 'U . S .'), or held only whitespace; those tokens took the tags of their "
              f"first piece (or of a stand-in '_')",
              file=sys.stderr)
    return count


def predict(model: str, input_path: str, output_path: str, input_format: str = "auto", batch_size: int | None = None,
            x_to_second_best: bool = False, num_threads: int = 1) -> int:
    """Tags `input_path` ('-' = stdin) into CoNLL-U at `output_path` ('-' = stdout); returns the sentence count."""
    backend, kind = load_backend(model, batch_size, num_threads)
    batch_size = backend.batch_size
    with tempfile.TemporaryDirectory() as scratch:
        path = stdin_to_file(scratch) if input_path == "-" else input_path
        shown = "<stdin>" if input_path == "-" else input_path
        if not os.path.isfile(path):
            raise DataError(shown, None, "no such file")
        if output_path == "-":
            out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n", write_through=True)
        else:
            os.makedirs(os.path.dirname(os.path.abspath(output_path)), exist_ok=True)
            partial = output_path + ".partial"
            out = open(partial, "w", encoding="utf-8", newline="\n")
        done = False
        try:
            fmt = sniff_input(path, input_format, shown)
            if fmt == "conllu":
                count = tag_conllu_file(backend, kind, path, out, batch_size, x_to_second_best)
            else:
                count = tag_text_file(backend, path, out, batch_size, x_to_second_best, document=fmt == "document")
            done = True
        except DataError as e:
            if input_path == "-":
                raise DataError(shown, e.line, e.problem) from None
            raise
        finally:
            if output_path == "-":
                out.flush()
                out.detach()  # leave sys.stdout open
            else:
                out.close()
                if not done:
                    os.remove(partial)
        if output_path != "-":
            os.replace(partial, output_path)
    return count


def main(argv):
    del argv
    count = predict(FLAGS.model, FLAGS.input, FLAGS.output, FLAGS.input_format, FLAGS.batch_size,
                    FLAGS.x_to_second_best, FLAGS.num_threads)
    if FLAGS.output != "-":
        print(f"{count} sentences tagged -> {FLAGS.output}", file=sys.stderr)


if __name__ == "__main__":
    define_flags()
    cli.run_main(main)
