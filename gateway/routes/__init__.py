"""HTTP routes (thin: validation is in schemas, Triton work in txt2img_service)."""
