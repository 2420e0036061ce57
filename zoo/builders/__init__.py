"""Zoo builders: train checkpoints of a family on a built-in backbone and append them to a zoo."""

from zoo.builders.lora import RotationLoraConfig, build_rotation_lora_zoo

__all__ = ["RotationLoraConfig", "build_rotation_lora_zoo"]
