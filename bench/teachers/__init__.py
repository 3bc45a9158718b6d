"""Distillation teachers of task 4 (SSMTL, section 3.3).

The student learns, per detected object, ``Y = Y_ResNet (1000 pre-softmax ImageNet logits)
⊕ Y_YOLO (80 COCO class probabilities)`` (eq. 4, n = 1080):

* :class:`ImageNetTeacher` (:mod:`~bench.teachers.imagenet`): an ImageNet classifier on
  224x224 object crops (the paper's ResNet-50; offline, the shared TorchScript MobileNetV2
  stands in).
* :class:`DetectorTeacher` (:mod:`~bench.teachers.detector`): the COCO detector's 80 class
  probabilities for *arbitrary* boxes (precomputed YOLOv3 boxes and motion proposals carry
  none).
* :func:`teacher_targets` (:mod:`~bench.teachers.targets`): both teachers over a
  :class:`~bench.detection.Detections` table, streamed into an ``(N, 1080)`` float32 ``.npy``
  memmap.
* :func:`crop_boxes` (:mod:`~bench.teachers.crops`): the object crops.

The weights of both teachers are found by :func:`bench.weights.resolve_weights`.
"""

from bench.teachers.crops import crop_boxes
from bench.teachers.detector import DetectorTeacher, class_probabilities
from bench.teachers.imagenet import ImageNetTeacher
from bench.teachers.targets import teacher_targets

__all__ = [
    "DetectorTeacher",
    "ImageNetTeacher",
    "class_probabilities",
    "crop_boxes",
    "teacher_targets",
]
