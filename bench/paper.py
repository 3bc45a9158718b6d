"""Every constant the SSMTL paper gives (Georgescu et al., CVPR 2021), with its section.

The code's defaults come from here; params.yaml states each deviation from them with its
reason. Nothing in this module is measured by us: it is what the paper says.
"""

from __future__ import annotations

# Section 3.1: object-centric temporal sequences of frames i-t..i+t around a detection.
T = 3  # section 4.2: "we use this value throughout all the anomaly detection experiments"
TUBE_SIZE = 64  # section 3.2: "the spatial size of the RGB input is 64 x 64 pixels"

# Section 3.1: a pre-trained detector finds the objects "in each frame".
DETECTOR = "YOLOv3"
FRAME_STRIDE = 1  # every frame, in training and at test time
PED2_FRAMES = "the UCSD release's .tif frames"  # section 4.1, the datasets as released

# Section 3.2 and Table 1: the four 3D CNN sizes (layers in bench/model.py).
ARCHITECTURE_NAMES = ("shallow_narrow", "shallow_wide", "deep_narrow", "deep_wide")
HEAD_FILTERS = 32  # section 3.2: "a 2D conv layer with 32 filters"

# Section 3.3: the proxy tasks T1..T4.
TASKS = ("arrow", "motion", "middle", "distill")
TASK_IDS = {"T1": "arrow", "T2": "motion", "T3": "middle", "T4": "distill"}
IMAGENET_TEACHER = "ResNet-50"  # task 4: its pre-softmax features
DETECTOR_TEACHER = "YOLOv3"  # task 4: its class probabilities
IMAGENET_CLASSES = 1000  # eq. (4): ResNet-50 pre-softmax features
COCO_CLASSES = 80  # eq. (4): YOLOv3 class probabilities
N_DISTILL = IMAGENET_CLASSES + COCO_CLASSES  # eq. (4): n = 1080
MAX_GAP = 4  # task 2: intermittent frames skip "random gaps in the range {1, 2, 3, 4}"

# Section 3.4, eq. (6): an object's anomaly score is the plain mean of its heads' scores.
HEAD_SCALE = "eq6"

# Table 2: the frame level (section 3.5) is reported with the deep+wide network, four tasks.
FRAME_LEVEL_ARCH = "deep_wide"

# Section 4.2, "Parameter tuning".
DETECTION_CONFIDENCE = {"ped1": 0.5, "ped2": 0.5, "avenue": 0.8, "shanghaitech": 0.8}
T_GRID = (1, 2, 3, 4)
LAMBDA_GRID = (0.1, 0.2, 0.5, 1.0)
LAMBDA = {"ped1": 0.5, "ped2": 0.5, "avenue": 0.2, "shanghaitech": 0.2}
TRAIN_FRACTION = 0.85  # "the first 85% of the frames in each training video", the rest validates

# Section 4.2: optimisation.
EPOCHS = 30
LEARNING_RATE = 1e-3  # Adam, the other parameters at their defaults
BATCH_SIZE = {"shallow_narrow": 256, "deep_narrow": 128, "shallow_wide": 128, "deep_wide": 64}
# Not stated; the authors' GTX 1080 Ti (supplementary 6.2) computes no bf16.
PRECISION = "fp32"

# Supplementary section 6.2: running time on the authors' GPU.
RUNNING_TIME = {
    "device_name": "GeForce GTX 1080 Ti",
    "detector": "yolov3",
    "end_to_end_fps": 23.0,
    "objects_per_frame": 5.0,
    "ms_per_object": 6.0,
    "ms_per_frame": {"detect": 26.0, "map": 1.0},  # map: "less than 1 ms"
}

# Section 4.2 gives t, lambda and the detection confidence per dataset. A dataset the paper does
# not use (the synthetic scenes, in Ped2's layout and resolution) takes Ped2's.
SETTINGS_OF_UNLISTED = "ped2"


def dataset_settings(dataset: str) -> dict[str, float]:
    """The paper's ``t``, ``lam`` and detection ``confidence`` for ``dataset`` (section 4.2)."""
    key = dataset if dataset in LAMBDA else SETTINGS_OF_UNLISTED
    return {"t": T, "lam": LAMBDA[key], "confidence": DETECTION_CONFIDENCE[key]}
