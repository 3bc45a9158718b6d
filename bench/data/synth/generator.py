"""Seeded generator of the synthetic-scenes dataset, written in the Ped2 frames layout.

One static camera looks at a walkway (see :mod:`bench.data.synth.scene`). Training videos show only
normal pedestrians walking left or right at normal speeds; test videos show normal pedestrians
plus anomalies of the four kinds of :mod:`bench.data.synth.anomalies`. Layout written under
``out``::

    training/frames/01/000.jpg ...        testing/frames/01/000.jpg ...
    gt/frame_labels/01.npy                uint8 per test frame, 1 = abnormal
    gt/anomaly_kinds/01.npy               uint8 bitmask per test frame (ANOMALY_KINDS bits)
    gt/pixel_masks/01/000.png             0/255 silhouettes of the anomalous objects
    gt/tracks/01.txt                      AED rows track_id,frame,x_min,y_min,x_max,y_max
                                          (exclusive maxima)
    detections/boxes_{train,test}.npz     oracle boxes of every object:
                                          rows [frame, x1, y1, x2, y2, 1.0]
    meta.json                             parameters, kinds, per-video counts and anomaly events

A frame is abnormal iff its mask is non-empty iff an anomalous object's silhouette (coverage
> 0.5, clipped to the frame) has a pixel in it; masks, track boxes and detection boxes are all
made of those silhouettes. Same seed, preset and difficulty give byte-identical files.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from bench.data.regions import write_track_file
from bench.data.synth.anomalies import ANOMALY_KINDS, KIND_NAMES, AnomalyStyle, lerp
from bench.data.synth.motion import (
    Agent,
)
from bench.data.synth.objects import render
from bench.data.synth.plan import plan_anomaly, plan_normals
from bench.data.synth.scene import Scene, make_scene
from bench.io import save_npz

GENERATOR_VERSION = "1.0"


@dataclass(frozen=True)
class Preset:
    """Size of a synthetic dataset."""

    name: str
    height: int
    width: int
    train_videos: int
    test_videos: int
    frames: tuple[int, int]  # frames per video, drawn uniformly in [min, max]
    objects: tuple[int, int]  # normal objects on screen at a time, before difficulty's distractors
    second_anomaly: float  # probability that a test video has a second anomalous object
    person_height: float  # height of a person at the bottom of the frame, fraction of frame height
    jpeg_quality: int = 90


PRESETS: dict[str, Preset] = {
    "tiny": Preset("tiny", 96, 128, 2, 4, (40, 40), (1, 2), 0.0, 0.28),
    "default": Preset("default", 160, 240, 8, 8, (110, 130), (2, 4), 0.5, 0.24),
    "ped2": Preset("ped2", 240, 360, 16, 12, (120, 180), (3, 6), 0.5, 0.2),
}


@dataclass(frozen=True)
class Settings:
    """What ``difficulty`` does to the scene (the anomalies' part is in :class:`AnomalyStyle`)."""

    difficulty: float

    @property
    def sensor_noise(self) -> float:
        """Standard deviation of the per-pixel sensor noise (grey levels)."""
        return lerp(1.0, 4.0, self.difficulty)

    @property
    def flicker(self) -> float:
        """Standard deviation of the global brightness gain (slow random walk)."""
        return lerp(0.005, 0.03, self.difficulty)

    def objects(self, preset: Preset) -> tuple[int, int]:
        """Normal objects on screen at a time: more distractors when harder."""
        return preset.objects[0], preset.objects[1] + int(round(2 * self.difficulty))


# --- rendering ------------------------------------------------------------------------------------


@dataclass
class RenderedVideo:
    frames: list[np.ndarray]  # RGB uint8
    masks: list[np.ndarray]  # bool
    boxes: np.ndarray  # (M, 6) float32 rows frame, x1, y1, x2, y2, 1.0 (every object)
    tracks: np.ndarray  # (K, 6) int rows track_id, frame, x_min, y_min, x_max, y_max
    kinds: np.ndarray  # uint8 bitmask per frame


def render_video(
    scene: Scene,
    agents: list[Agent],
    num_frames: int,
    noise_rng: np.random.Generator,
    settings: Settings,
) -> RenderedVideo:
    H, W = scene.height, scene.width
    shocks, gain = noise_rng.standard_normal(num_frames), np.empty(num_frames)
    level = shocks[0]
    for t in range(num_frames):  # AR(1) brightness drift of unit variance
        level = level if t == 0 else 0.9 * level + np.sqrt(1 - 0.81) * shocks[t]
        gain[t] = 1.0 + settings.flicker * level
    frames, masks, boxes, tracks = [], [], [], []
    kinds = np.zeros(num_frames, np.uint8)
    for t in range(num_frames):
        canvas = scene.background.copy()
        mask = np.zeros((H, W), bool)
        present = sorted(
            ((a.pose(t), i) for i, a in enumerate(agents) if a.pose(t) is not None),
            key=lambda p: (p[0].y, p[1]),
        )
        for pose, i in present:
            agent = agents[i]
            drawn = render(canvas, agent.shape, pose, agent.look)
            if drawn is None:
                continue
            silhouette, (y0, x0) = drawn
            rows, cols = np.flatnonzero(silhouette.any(1)), np.flatnonzero(silhouette.any(0))
            box = [x0 + cols[0], y0 + rows[0], x0 + cols[-1] + 1, y0 + rows[-1] + 1]
            boxes.append([t, *box, 1.0])
            if agent.kind is not None:
                mask[y0 : y0 + silhouette.shape[0], x0 : x0 + silhouette.shape[1]] |= silhouette
                tracks.append([agent.track_id, t, *box])
                kinds[t] |= ANOMALY_KINDS[agent.kind]
        noise = noise_rng.standard_normal((H, W, 1), dtype=np.float32) * settings.sensor_noise
        noise = noise + noise_rng.standard_normal((H, W, 3), dtype=np.float32) * (
            0.3 * settings.sensor_noise
        )
        canvas *= np.float32(gain[t])
        canvas += noise
        frames.append(np.clip(np.rint(canvas), 0, 255).astype(np.uint8))
        masks.append(mask)
    tracks_array = np.array(sorted(tracks), dtype=np.int64).reshape(-1, 6)
    return RenderedVideo(
        frames, masks, np.array(boxes, np.float32).reshape(-1, 6), tracks_array, kinds
    )


# --- writing --------------------------------------------------------------------------------------


def _write_image(path: Path, image: np.ndarray, params: list[int]) -> None:
    """Encode with OpenCV (deterministic) and write; RGB images are stored as BGR files."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(path.suffix, image, params)
    if not ok:
        raise OSError(f"{path}: cannot encode image")
    path.write_bytes(data.tobytes())


def _write_video(root: Path, split: str, video_id: str, video: RenderedVideo, quality: int) -> None:
    digits = 3 if len(video.frames) <= 1000 else 4
    folder = root / ("training" if split == "train" else "testing") / "frames" / video_id
    folder.mkdir(parents=True)
    for t, frame in enumerate(video.frames):
        _write_image(folder / f"{t:0{digits}d}.jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if split == "train":
        return
    gt = root / "gt"
    labels = np.array([m.any() for m in video.masks], np.uint8)
    np.save(gt / "frame_labels" / f"{video_id}.npy", labels)
    np.save(gt / "anomaly_kinds" / f"{video_id}.npy", video.kinds)
    mask_folder = gt / "pixel_masks" / video_id
    mask_folder.mkdir(parents=True)
    for t, mask in enumerate(video.masks):
        _write_image(
            mask_folder / f"{t:0{digits}d}.png",
            mask.astype(np.uint8) * 255,
            [cv2.IMWRITE_PNG_COMPRESSION, 3],
        )
    write_track_file(gt / "tracks" / f"{video_id}.txt", video.tracks)


def _events(agents: list[Agent], video: RenderedVideo) -> list[dict]:
    events = []
    for agent in agents:
        if agent.kind is None:
            continue
        frames = video.tracks[video.tracks[:, 0] == agent.track_id, 1]
        if len(frames):
            events.append(
                {
                    "kind": agent.kind,
                    "bit": ANOMALY_KINDS[agent.kind],
                    "subtype": agent.subtype,
                    "shape": agent.shape,
                    "track_id": int(agent.track_id),
                    "first_frame": int(frames.min()),
                    "last_frame": int(frames.max()),
                }
            )
    return events


def _visible_frames(scene: Scene, agent: Agent) -> int:
    scratch = np.zeros((scene.height, scene.width, 3), np.float32)
    return sum(render(scratch, agent.shape, pose, agent.look) is not None for pose in agent.poses)


def _generate_into(
    root: Path, seed: int, preset: Preset, difficulty: float, progress: bool
) -> None:
    from bench.progress import progress_bar

    style, settings = AnomalyStyle(difficulty), Settings(difficulty)
    scene = make_scene(
        np.random.default_rng([seed, 0]),
        preset.height,
        preset.width,
        preset.person_height * preset.height,
    )
    for sub in ("frame_labels", "anomaly_kinds", "pixel_masks", "tracks"):
        (root / "gt" / sub).mkdir(parents=True)
    (root / "detections").mkdir()
    id_digits = max(2, len(str(max(preset.train_videos, preset.test_videos))))
    meta = {
        "generator": "bench.data.synth",
        "version": GENERATOR_VERSION,
        "seed": seed,
        "preset": asdict(preset),
        "difficulty": difficulty,
        "frame_size": [preset.height, preset.width],
        "anomaly_kinds": dict(ANOMALY_KINDS),
        "videos": {"train": [], "test": []},
    }
    bar = progress_bar(
        total=preset.train_videos + preset.test_videos,
        unit="video",
        desc="synthetic",
        disable=not progress,
    )
    for split_index, (split, count) in enumerate(
        (("train", preset.train_videos), ("test", preset.test_videos))
    ):
        detections = {}
        for index in range(count):
            video_id = f"{index + 1:0{id_digits}d}"
            rng = np.random.default_rng([seed, 1 + split_index, index])
            num_frames = int(rng.integers(preset.frames[0], preset.frames[1] + 1))
            anomalies = []
            if split == "test":
                kinds = [KIND_NAMES[index % len(KIND_NAMES)]]
                if rng.random() < preset.second_anomaly:
                    kinds.append(KIND_NAMES[int(rng.integers(len(KIND_NAMES)))])
                exits = bool(rng.random() < 0.3)
                for k, kind in enumerate(kinds):
                    for _ in range(20):  # re-draw the rare anomaly that would hardly be seen
                        agent = plan_anomaly(
                            rng, scene, kind, k, num_frames, style, exits and k == 0
                        )
                        if _visible_frames(scene, agent) >= min(10, num_frames // 4):
                            break
                    anomalies.append(agent)
            agents = plan_normals(
                rng, scene, num_frames, settings.objects(preset), style, anomalies
            )
            bar.set_postfix_str(f"{split} {video_id}")
            video = render_video(
                scene,
                agents,
                num_frames,
                np.random.default_rng([seed, 1 + split_index, index, 1]),
                settings,
            )
            _write_video(root, split, video_id, video, preset.jpeg_quality)
            detections[video_id] = video.boxes
            entry = {"id": video_id, "frames": num_frames, "objects": len(agents)}
            if split == "test":
                entry.update(
                    abnormal_frames=int(np.count_nonzero(video.kinds)),
                    events=_events(agents, video),
                )
            meta["videos"][split].append(entry)
            bar.update()
        save_npz(root / "detections" / f"boxes_{split}.npz", detections)
    bar.close()
    (root / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


def generate(
    out: Path,
    seed: int = 0,
    preset: str = "default",
    difficulty: float = 0.5,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Write the synthetic dataset ``preset`` to ``out`` and return ``out``.

    Generation goes to a sibling ``OUT.tmp-<pid>`` folder that replaces ``out`` only when
    complete, so an interrupted run leaves no ``out``. An existing non-empty ``out`` is refused
    unless ``overwrite``.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    if not 0.0 <= difficulty <= 1.0:
        raise ValueError(f"difficulty must be in [0, 1], got {difficulty}")
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{out}: folder exists and is not empty (pass overwrite=True to replace it)"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        _generate_into(tmp, int(seed), PRESETS[preset], float(difficulty), progress)
        if out.exists():
            old = out.with_name(f"{out.name}.old-{os.getpid()}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
