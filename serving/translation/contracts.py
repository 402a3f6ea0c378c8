"""The public contract of the `translate` orchestrator, defined once (torch-free).

Its config.pbtxt (written by `python -m export`), the clients and the README table derive from it;
the orchestrator parses requests against it.
"""

from __future__ import annotations

from serving.contracts import OrchestratorContract, TensorContract, contract_table

MAX_TEXTS = 32
MAX_BEAMS = 8

T = TensorContract

TRANSLATE = OrchestratorContract(
    "translate",
    "MarianMT translation (de->en with opus-mt-de-en), token for token `MarianMTModel.generate`: greedy or beam "
    "search with the checkpoint's generation config (length penalty, forced end, pad never generated). A text "
    "longer than the tokenizer's maximum length is split into sentences, each translated alone, and the "
    "translations are joined with spaces (a sentence still too long is cut between words).",
    (
        T("text", "BYTES", (-1,), "required", f"[n] non-empty UTF-8 texts, n = 1..{MAX_TEXTS}", optional=False),
        T("num_beams", "INT32", (1,), "the generation config's (4 for opus-mt)", f"1 (greedy)..{MAX_BEAMS}"),
        T("max_new_tokens", "INT32", (1,), "the generation config's max_length - 1",
          "1..the generation config's max_length - 1, per sentence"),
    ),
    (T("translation", "BYTES", (-1,), allowed="[n] one translation per text, in order"),),
    runner="serving.translation.translator:Translator",
    requires=("translator_encoder", "translator_decoder"),
)

TRANSLATION_CONTRACTS: dict[str, OrchestratorContract] = {TRANSLATE.name: TRANSLATE}


def translation_contracts_markdown() -> str:
    """The README's `translate` contract section (a test keeps it equal to this spec)."""
    outputs = ", ".join(f"`{spec.name}` {spec.dtype} [{','.join(map(str, spec.dims))}]" for spec in TRANSLATE.outputs)
    components = ", ".join(f"`{name}`" for name in TRANSLATE.requires)
    return (f"#### `{TRANSLATE.name}`\n\n{TRANSLATE.summary} Calls {components} through BLS.\n\n"
            f"{contract_table(TRANSLATE)}\n\nOutputs: {outputs}.")
