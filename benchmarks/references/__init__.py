"""The jobs the served pipelines replace, run by hand as users run them today: diffusers, transformers and rembg
in-process on the same weights and seeds. The parity tests hold every served pipeline to these, and the benchmarks
time the served side against them."""
