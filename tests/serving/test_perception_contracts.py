"""The perception contracts are the one source of the orchestrators' configs and the README tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb

from export.perception.repository import orchestrator_config
from serving.perception.contracts import CONTRACTS, perception_contracts_markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_tables_are_the_generated_ones():
    section = README.read_text().split("<!-- perception-contracts:start -->\n", 1)[1]
    section = section.split("\n<!-- perception-contracts:end -->", 1)[0]
    assert section == perception_contracts_markdown()


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_config_follows_the_contract(name):
    contract = CONTRACTS[name]
    config = text_format.Parse(text_format.MessageToString(orchestrator_config(contract, 3)), pb.ModelConfig())
    assert config.name == name and config.max_batch_size == 0 and config.instance_group[0].count == 3
    assert [(i.name, list(i.dims), i.optional) for i in config.input] == [
        (s.name, list(s.dims), s.optional) for s in contract.inputs]
    assert [pb.DataType.Name(o.data_type) for o in config.output] == [
        "TYPE_STRING" if s.dtype == "BYTES" else f"TYPE_{s.dtype}" for s in contract.outputs]
    assert config.parameters["contract"].string_value == name
