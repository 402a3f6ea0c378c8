"""`python -m clients translate` against the session tritonserver: one line per text, generate's translations."""

from __future__ import annotations

import torch

from clients.cli import main


def test_cli_prints_one_translation_per_text(triton_server, capsys):
    from export.translation.sources import tiny_translation_source

    source = tiny_translation_source()
    texts = ["Damen-Bluse aus 100 % Viskose.", "Farbe: Blau."]
    assert main(["translate", *texts, "--url", triton_server.grpc_url, "--num-beams", "2",
                 "--max-new-tokens", "12"]) == 0
    batch = source.tokenizer(texts, return_tensors="pt", padding=True)
    with torch.inference_mode():
        expected = source.tokenizer.batch_decode(source.model.generate(**batch, num_beams=2, max_new_tokens=12),
                                                 skip_special_tokens=True)
    assert capsys.readouterr().out.split("\n")[:-1] == expected


def test_cli_reports_a_bad_input_with_exit_code_2(triton_server, caplog):
    assert main(["translate", "Hallo", "--url", triton_server.grpc_url, "--num-beams", "0"]) == 2
    assert "invalid input 'num_beams'" in caplog.text
