"""Photo workflows (background_replace, restyle_room, product_enhance): perception stages, a conditioned
generation, then compositing; each is one orchestrator whose networks are all served by Triton."""
