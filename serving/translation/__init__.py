"""translate: MarianMT served as encoder + decoder-step components and a BLS orchestrator."""
