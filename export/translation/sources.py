"""Where the translator's weights and tokenizer come from: the `tiny` preset or `from_pretrained`.

`tiny` is a random-weight MarianMT with the opus-mt-de-en architecture's shape rules (shared
embeddings, sinusoidal positions, swish, scaled embeddings) and a real `MarianTokenizer` whose
sentencepiece models are trained here, at build time, on the German and English article texts the
project ships (catalog/data). Anything else is a Hugging Face id or a directory written by
`save_pretrained` (model, tokenizer and generation config); nothing is downloaded by the presets.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

log = logging.getLogger(__name__)

TINY = "tiny"
TINY_SEED = 0
# catalog/data ships German article texts with English translations (`de`, `en` per article).
CORPUS_FILES = ("articles_labelled.json", "articles_heldout.json")
CATALOG_DATA = Path(__file__).resolve().parents[2] / "catalog" / "data"
TINY_PIECES = 600  # per language; the shipped texts hold about this many useful pieces
# Short enough that tests exercise the sentence splitting of longer texts.
TINY_MAX_SOURCE_TOKENS = 64
TINY_MAX_POSITIONS = 128
TINY_EOS_BIAS = 5.7


@dataclass
class TranslationSource:
    """The MarianMT model, its tokenizer and generation config, under one name."""

    name: str
    model: MarianMTModel
    tokenizer: MarianTokenizer

    def module(self, attribute: str) -> torch.nn.Module:
        # Both translator descriptors export parts of the one MarianMTModel.
        return self.model

    @property
    def generation_config(self) -> GenerationConfig:
        return self.model.generation_config

    def save_pretrained(self, directory: Path) -> None:
        """A transformers checkpoint directory (what `from_pretrained` and `MarianMTModel.generate` load)."""
        self.model.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)


def corpus(language: str) -> list[str]:
    """The shipped article texts in `language` ("de" or "en")."""
    texts = []
    for name in CORPUS_FILES:
        articles = json.loads((CATALOG_DATA / name).read_text(encoding="utf-8"))["articles"]
        texts += [article[language] for article in articles if article.get(language)]
    return texts


def train_sentencepiece(texts: list[str], prefix: Path, vocab_size: int) -> Path:
    """A unigram sentencepiece model of `texts` (<unk> only: Marian's special tokens live in vocab.json)."""
    import sentencepiece as spm

    spm.set_random_generator_seed(TINY_SEED)  # with one thread, the same models on every build
    corpus_file = prefix.with_suffix(".txt")
    corpus_file.write_text("\n".join(texts), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus_file), model_prefix=str(prefix), vocab_size=vocab_size, model_type="unigram",
        character_coverage=1.0, hard_vocab_limit=False, unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1,
        num_threads=1, minloglevel=2,
    )
    return prefix.with_suffix(".model")


def tiny_tokenizer(directory: Path) -> MarianTokenizer:
    """MarianTokenizer over sentencepiece models trained on the shipped texts; one joint vocab.json as
    opus-mt's: `</s>` = 0, `<unk>` = 1, the pieces of both languages, `<pad>` last."""
    import sentencepiece as spm

    source = train_sentencepiece(corpus("de"), directory / "source", TINY_PIECES)
    target = train_sentencepiece(corpus("en"), directory / "target", TINY_PIECES)
    vocab = {"</s>": 0, "<unk>": 1}
    for model in (source, target):
        processor = spm.SentencePieceProcessor(model_file=str(model))
        for piece_id in range(processor.get_piece_size()):
            vocab.setdefault(processor.id_to_piece(piece_id), len(vocab))
    vocab["<pad>"] = len(vocab)
    (directory / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    return MarianTokenizer(str(source), str(target), str(directory / "vocab.json"),
                           model_max_length=TINY_MAX_SOURCE_TOKENS)


def tiny_generation_config(pad: int, eos: int, max_length: int) -> GenerationConfig:
    """opus-mt-de-en's generation config (beam 4, pad never generated, eos forced at the end), shorter."""
    return GenerationConfig(bad_words_ids=[[pad]], bos_token_id=eos, decoder_start_token_id=pad, eos_token_id=eos,
                            forced_eos_token_id=eos, max_length=max_length, num_beams=4, pad_token_id=pad,
                            renormalize_logits=True)


def tiny_translation_source() -> TranslationSource:
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = tiny_tokenizer(Path(tmp))
        # The tokenizer has read its files; keep it loadable after tmp is gone by saving and reloading.
        saved = Path(tmp) / "saved"
        tokenizer.save_pretrained(saved)
        tokenizer = MarianTokenizer.from_pretrained(saved)
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    config = MarianConfig(
        vocab_size=len(tokenizer), decoder_vocab_size=len(tokenizer), d_model=32, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64,
        max_position_embeddings=TINY_MAX_POSITIONS, activation_function="swish", scale_embedding=True,
        pad_token_id=pad, eos_token_id=eos, decoder_start_token_id=pad, forced_eos_token_id=eos,
        share_encoder_decoder_embeddings=True, init_std=0.3, dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
    )
    torch.manual_seed(TINY_SEED)
    model = MarianMTModel(config).eval()
    # With init_std 0.3 texts translate differently and greedy and beam search disagree; a logits bias
    # towards </s> ends them at different lengths, as a trained model's would (found by trying seeds' outputs).
    with torch.no_grad():
        model.final_logits_bias[0, eos] = TINY_EOS_BIAS
    model.generation_config = tiny_generation_config(pad, eos, max_length=TINY_MAX_POSITIONS)
    return TranslationSource(TINY, model, tokenizer)


def pretrained_translation_source(location: str) -> TranslationSource:
    """A Hugging Face id (from the local cache) or a `save_pretrained` directory."""
    model = MarianMTModel.from_pretrained(location).eval()
    tokenizer = MarianTokenizer.from_pretrained(location)
    return TranslationSource(str(location), model, tokenizer)


def load_translation_source(choice: str) -> TranslationSource:
    return tiny_translation_source() if choice == TINY else pretrained_translation_source(choice)
