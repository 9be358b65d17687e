"""Pydantic models whose `model_json_schema()` are job input schemas in the tests: the model
from W&B's "Manage job inputs" page (Pydantic tab), and a training config with every kind of
field a pydantic user writes. tests/wandb_corpus/schemas/pydantic_*.yaml are their schemas as
pydantic 2.14 wrote them."""

from enum import Enum, StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field


# --- W&B's docs, "Manage job inputs", Pydantic tab (names as there: they name the $defs) ---
class DatasetEnum(str, Enum):  # noqa: UP042  (as the docs write it)
    cifar10 = "cifar10"
    cifar100 = "cifar100"


class Trainer(BaseModel):
    learning_rate: float = Field(gt=0, description="Learning rate of the model")
    batch_size: int = Field(ge=1, le=256, description="Number of samples per batch")
    dataset: DatasetEnum = Field(title="Dataset", description="Name of the dataset to use")


class Schema(BaseModel):
    seed: int
    trainer: Trainer


# --- a training config: Optional, nested models, Literal, Annotated bounds, enums, lists ---
class Optimizer(StrEnum):
    adam = "adam"
    sgd = "sgd"


class Augment(BaseModel):
    flip: bool = True
    crop: int | None = Field(default=None, ge=8, description="Random crop size in pixels")


class Scheduler(BaseModel):
    kind: Literal["cosine", "step"] = "cosine"
    warmup_steps: int = Field(default=0, ge=0)


class TrainConfig(BaseModel):
    lr: Annotated[float, Field(gt=0, description="Learning rate")] = 0.001
    epochs: int = Field(default=10, ge=1, le=1000)
    optimizer: Optimizer = Optimizer.adam
    precision: Literal["fp32", "bf16", "fp16"] = "bf16"
    seed: int | None = None
    compile: bool = False
    run_name: str = Field(default="baseline", pattern=r"^[a-z0-9-]+$", min_length=3)
    tags: list[str] = []
    layers: list[int] = [64, 64]
    augment: Augment = Augment()
    scheduler: Scheduler | None = None


TRAIN_CONFIG_DEFAULTS = {
    "lr": 0.001,
    "epochs": 10,
    "optimizer": "adam",
    "precision": "bf16",
    "seed": None,
    "compile": False,
    "run_name": "baseline",
    "tags": [],
    "layers": [64, 64],
    "augment": {"flip": True, "crop": None},
    "scheduler": None,
}
