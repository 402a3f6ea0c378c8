"""HTTP routes (thin: a schema in schemas, a mapping in contract_mapping, Triton work in generation_service)."""
