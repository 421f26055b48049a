"""The named configurations of the denoisers (the paper's sizes and small CPU ones)."""

PRESETS = {
    "unet_rf18": {
        "class": "BiasFreeUNet",
        "config": {"levels": 1, "base_channels": 64},
        "paper_params": 366_080,
        "description": "Paper UNet, 1 level, nominal receptive field 18.",
    },
    "unet_rf45": {
        "class": "BiasFreeUNet",
        "config": {"levels": 2, "base_channels": 64},
        "paper_params": 1_825_024,
        "description": "Paper UNet, 2 levels, nominal receptive field 45.",
    },
    "unet_rf90": {
        "class": "BiasFreeUNet",
        "config": {"levels": 3, "base_channels": 64},
        "paper_params": 7_659_264,
        "description": "Paper UNet, 3 levels, nominal receptive field 90 (the main model).",
    },
    "unet_rf180": {
        "class": "BiasFreeUNet",
        "config": {"levels": 4, "base_channels": 64},
        "paper_params": 30_993_152,
        "description": "Paper UNet, 4 levels, nominal receptive field 180.",
    },
    "bfcnn_21": {
        "class": "BFCNN",
        "config": {"num_layers": 21, "channels": 64},
        "paper_params": 702_784,
        "description": "Paper BF-CNN, 21 layers of 64 channels.",
    },
    "unet_small": {
        "class": "BiasFreeUNet",
        "config": {"levels": 2, "base_channels": 16},
        "paper_params": None,
        "description": "CPU UNet, 2 levels, 16 base channels (quick reproductions).",
    },
    "unet_tiny": {
        "class": "BiasFreeUNet",
        "config": {"levels": 1, "base_channels": 8},
        "paper_params": None,
        "description": "Test-size UNet, 1 level, 8 base channels.",
    },
    "bfcnn_small": {
        "class": "BFCNN",
        "config": {"num_layers": 8, "channels": 32},
        "paper_params": None,
        "description": "CPU BF-CNN, 8 layers of 32 channels.",
    },
}


def get_preset(name):
    """The preset spec of `name`, or a ValueError listing the valid names."""
    if name not in PRESETS:
        raise ValueError(
            f"Unknown preset '{name}'. Valid presets: {', '.join(sorted(PRESETS))}."
        )
    return PRESETS[name]
