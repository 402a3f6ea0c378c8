"""What a catalog job is asked to do: input columns, the generation model and its knobs, the quality gate.

One schema for the CLI's flags, the gateway's upload form and the job store (saved with the job, so a
resumed job runs with the options it was started with).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AllowInfNan, BaseModel, ConfigDict, Field, Strict, StrictBool, StrictInt, StrictStr

Number = Annotated[float, Strict(), AllowInfNan(False)]  # an int is a float too; nan and inf are not


class JobOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_column: StrictStr | None = Field(None, min_length=1, max_length=100,
                                        description="column (or JSON key) of the article id; default: article_id, "
                                                    "artikelnummer, id, sku, ...")
    text_column: StrictStr | None = Field(None, min_length=1, max_length=100,
                                          description="column (or JSON key) of the German description; default: "
                                                      "beschreibung, description, text, ...")
    model: StrictStr | None = Field(None, min_length=1, max_length=100,
                                    description="exported model variant (e.g. a LoRA-fused one); default: the "
                                                "repository's first")
    num_inference_steps: StrictInt | None = Field(None, ge=1, le=150)
    guidance_scale: Number | None = Field(None, ge=0, le=30)
    height: StrictInt | None = Field(None, ge=8, le=4096)
    width: StrictInt | None = Field(None, ge=8, le=4096)
    scheduler: StrictStr | None = Field(None, min_length=1, max_length=40)
    seed: StrictInt = Field(0, ge=0, le=2**31 - 1,
                            description="base seed: item i, attempt a uses seed + 1000 * i + a (reproducible)")
    threshold: Number = Field(30.0, ge=0, le=100, description="CLIP score (100 x cosine) an image must reach")
    max_retries: StrictInt = Field(2, ge=0, le=10,
                                   description="regenerations with a new seed below the threshold (K)")
    translate: StrictBool = Field(True, description="false: the descriptions are English already")
    num_beams: StrictInt | None = Field(None, ge=1, le=8, description="translation beams (default: the checkpoint's)")
    max_new_tokens: StrictInt | None = Field(None, ge=1, le=512)

    def generation_inputs(self) -> dict[str, object]:
        """The txt2img contract inputs these options set (None: the model's default)."""
        return {"model": self.model, "num_inference_steps": self.num_inference_steps,
                "guidance_scale": None if self.guidance_scale is None else float(self.guidance_scale),
                "height": self.height, "width": self.width, "scheduler": self.scheduler}

    def item_seed(self, index: int, attempt: int) -> int:
        return (self.seed + 1000 * index + attempt) % 2**31
