"""Frame and mask readers shared by the dataset adapters: image folders, video files, arrays.

All readers return RGB ``uint8`` frames ``(n, H, W, 3)`` (grayscale sources such as the UCSD
``.tif`` frames are replicated to three channels) and ``bool`` masks ``(n, H, W)``. A file that
cannot be decoded raises :class:`DatasetError` naming it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from bench.data.base import DatasetError, FrameSource, MaskSource

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")
VIDEO_EXTENSIONS = (".avi", ".mp4", ".mov", ".mkv")


def natural_key(path: Path) -> tuple:
    """Sort key that orders ``2.jpg`` before ``10.jpg``."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name))


def list_images(folder: Path) -> list[Path]:
    """Image files of ``folder`` in natural order (hidden files skipped)."""
    if not folder.is_dir():
        return []
    files = [
        p
        for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    ]
    return sorted(files, key=natural_key)


def read_image(path: Path) -> np.ndarray:
    """One image as RGB ``uint8`` ``(H, W, 3)``; raise :class:`DatasetError` if unreadable."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        problem = "file is missing" if not path.exists() else "corrupt or unreadable image"
        raise DatasetError(f"{path}: {problem}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_gray(path: Path) -> np.ndarray:
    """One single-channel image ``(H, W)`` as stored; raise :class:`DatasetError` if unreadable."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        problem = "file is missing" if not path.exists() else "corrupt or unreadable image"
        raise DatasetError(f"{path}: {problem}")
    return image


def stack_same_size(images: list[np.ndarray], paths: list[Path]) -> np.ndarray:
    """Stack images, naming the first file whose size differs from the first image's."""
    for image, path in zip(images, paths, strict=True):
        if image.shape != images[0].shape:
            raise DatasetError(
                f"{path}: size {image.shape[:2]} differs from {paths[0]} {images[0].shape[:2]}"
            )
    return np.stack(images)


class ImageFolderFrames(FrameSource):
    """Frames stored one image per file (the ano_pred/MNAD ``frames/01/000.jpg`` layout,
    UCSD ``.tif``)."""

    def __init__(self, folder: Path, files: list[Path] | None = None):
        self.folder = folder
        self.files = list_images(folder) if files is None else files
        if not self.files:
            raise DatasetError(f"{folder}: no frame images ({', '.join(IMAGE_EXTENSIONS)})")

    @property
    def num_frames(self) -> int:
        return len(self.files)

    @property
    def location(self) -> Path:
        return self.folder

    def read(self, start: int, stop: int) -> np.ndarray:
        paths = self.files[start:stop]
        return stack_same_size([read_image(p) for p in paths], paths)

    def verify(self, advance: Callable[[int], object] = lambda n: None) -> list[str]:
        """Decode every file strictly: OpenCV returns a truncated JPEG with its missing part
        grey (a warning on stderr, no error), so each file is decoded in full with Pillow,
        which refuses one; the frames must also share one size."""
        problems, first = [], None
        for path in self.files:
            try:
                with Image.open(path) as image:
                    image.load()  # decodes every byte: "image file is truncated"
                    size = image.size
            except (OSError, SyntaxError, ValueError, ImportError) as error:
                # UnidentifiedImageError is an OSError; ImportError: once imported, ultralytics
                # patches Image.open to retry an unidentified file with a HEIF plugin it lacks
                reason = "no image format identified" if isinstance(error, ImportError) else error
                problems.append(
                    f"{path}: corrupt or truncated image ({reason}); replace the file "
                    "(copy or extract it again)"
                )
            else:
                if first is None:
                    first = (path, size)
                elif size != first[1]:
                    problems.append(f"{path}: size {size} differs from {first[0]} {first[1]}")
            advance(1)
        return problems


class VideoFileFrames(FrameSource):
    """Frames decoded from a video file with OpenCV (Avenue and ShanghaiTech ``.avi``).

    The frame count is found by decoding the file once (container headers are unreliable for
    these ``.avi`` files) and cached; ranges are read by seeking to ``start`` then decoding.
    """

    def __init__(self, path: Path):
        if not path.is_file():
            raise DatasetError(f"{path}: video file is missing")
        self.path = path
        self._num_frames: int | None = None

    @property
    def location(self) -> Path:
        return self.path

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            raise DatasetError(
                f"{self.path}: cannot open video (corrupt file or unsupported codec)"
            )
        return capture

    @property
    def num_frames(self) -> int:
        if self._num_frames is None:
            capture = self._open()
            count = 0
            while capture.grab():
                count += 1
            capture.release()
            if count == 0:
                raise DatasetError(f"{self.path}: video has no decodable frames")
            self._num_frames = count
        return self._num_frames

    def read(self, start: int, stop: int) -> np.ndarray:
        capture = self._open()
        capture.set(cv2.CAP_PROP_POS_FRAMES, start)
        frames = []
        for index in range(start, stop):
            ok, frame = capture.read()
            if not ok:
                capture.release()
                raise DatasetError(f"{self.path}: cannot decode frame {index}")
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        capture.release()
        return np.stack(frames) if frames else np.zeros((0, 0, 0, 3), np.uint8)


class ImageFolderMasks(MaskSource):
    """Pixel masks stored one image per frame; non-zero pixels are abnormal.

    ``files[j]`` is the mask of frame ``j``; a ``None`` entry means "no mask file, all normal"
    and needs ``shape``.
    """

    def __init__(self, files: list[Path | None], shape: tuple[int, int] | None = None):
        self.files = files
        self.shape = shape

    @property
    def num_frames(self) -> int:
        return len(self.files)

    def read(self, start: int, stop: int) -> np.ndarray:
        masks = []
        for path in self.files[start:stop]:
            if path is None:
                if self.shape is None:
                    raise DatasetError("mask file missing and mask size unknown")
                masks.append(np.zeros(self.shape, dtype=bool))
            else:
                masks.append(read_gray(path) > 0)
        return np.stack(masks) if masks else np.zeros((0, *(self.shape or (0, 0))), dtype=bool)


class ArrayMasks(MaskSource):
    """Pixel masks held in (or memory-mapped from) an array ``(n, H, W)``; non-zero is abnormal."""

    def __init__(self, masks: np.ndarray):
        self.masks = masks

    @property
    def num_frames(self) -> int:
        return len(self.masks)

    def read(self, start: int, stop: int) -> np.ndarray:
        return np.asarray(self.masks[start:stop]) > 0
