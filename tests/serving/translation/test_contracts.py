"""translate's contract is the one source of its config.pbtxt and its README table."""

from __future__ import annotations

from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb

from export.translation.repository import ASSETS, write_translate
from serving.translation.contracts import TRANSLATE, translation_contracts_markdown

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_table_is_the_generated_one():
    section = README.read_text().split("<!-- translate-contract:start -->\n", 1)[1]
    assert section.split("\n<!-- translate-contract:end -->", 1)[0] == translation_contracts_markdown()


def test_written_config_follows_the_contract(translation_source, tmp_path):
    write_translate(translation_source, tmp_path, instances=3)
    config = text_format.Parse((tmp_path / "translate" / "config.pbtxt").read_text(), pb.ModelConfig())
    assert config.name == "translate" and config.backend == "python" and config.max_batch_size == 0
    assert config.instance_group[0].count == 3
    assert [(i.name, list(i.dims), i.optional, pb.DataType.Name(i.data_type)) for i in config.input] == [
        ("text", [-1], False, "TYPE_STRING"), ("num_beams", [1], True, "TYPE_INT32"),
        ("max_new_tokens", [1], True, "TYPE_INT32")]
    assert [(o.name, list(o.dims), pb.DataType.Name(o.data_type)) for o in config.output] == [
        ("translation", [-1], "TYPE_STRING")]
    assert config.parameters["contract"].string_value == TRANSLATE.name
    assert (tmp_path / config.parameters["assets"].string_value) == tmp_path / ASSETS
    assert (tmp_path / ASSETS / "tokenizer" / "source.spm").is_file()
