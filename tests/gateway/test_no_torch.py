"""The gateway never imports torch (DESIGN.md principle): checked in a fresh interpreter."""

import subprocess
import sys


def test_gateway_imports_no_torch() -> None:
    code = (
        "import sys\n"
        "import gateway.__main__, gateway.app, gateway.launcher\n"
        "gateway.app.create_app()\n"
        "heavy = sorted(m for m in ('torch', 'diffusers', 'transformers', 'onnxruntime') if m in sys.modules)\n"
        "print(heavy)\n"
        "sys.exit(1 if heavy else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"gateway imported {result.stdout.strip()} {result.stderr[-2000:]}"
