"""Tracks derived from pixel masks: components per frame, linked by overlap."""

from __future__ import annotations

import numpy as np

from bench.data.frames import ArrayMasks
from bench.data.regions import read_track_file, tracks_from_masks, write_track_file


def test_two_simultaneous_regions_become_two_tracks():
    masks = np.zeros((4, 10, 20), bool)
    masks[0, 1:3, 1:3] = True  # A
    masks[0, 6:9, 10:14] = True  # B
    masks[1, 1:3, 2:4] = True  # A moved right by one (overlaps)
    masks[1, 6:9, 11:15] = True  # B moved
    masks[2, 6:9, 12:16] = True  # only B; A has ended
    masks[3, 1:3, 2:4] = True  # A reappears after a gap: a new track (no gap bridging)
    tracks = tracks_from_masks(ArrayMasks(masks))
    assert tracks.tolist() == [
        [0, 0, 1, 1, 3, 3],
        [1, 0, 10, 6, 14, 9],
        [0, 1, 2, 1, 4, 3],
        [1, 1, 11, 6, 15, 9],
        [1, 2, 12, 6, 16, 9],
        [2, 3, 2, 1, 4, 3],
    ]


def test_split_keeps_the_larger_overlap_and_small_components_are_dropped():
    masks = np.zeros((2, 10, 20), bool)
    masks[0, 2:6, 2:12] = True
    masks[1, 2:6, 2:4] = True  # small part of the split
    masks[1, 2:6, 6:12] = True  # larger part keeps the track
    masks[1, 9, 19] = True  # a 1-pixel speck
    tracks = tracks_from_masks(ArrayMasks(masks), min_area=2)
    assert tracks.tolist() == [[0, 0, 2, 2, 12, 6], [1, 1, 2, 2, 4, 6], [0, 1, 6, 2, 12, 6]]


def test_track_file_round_trip(tmp_path):
    rows = np.array([[0, 154, 4, 142, 119, 249], [3, 7, 1, 2, 3, 4]], float)
    write_track_file(tmp_path / "v.txt", rows)
    assert (tmp_path / "v.txt").read_text().splitlines()[0] == "0,154,4,142,119,249"
    assert np.array_equal(read_track_file(tmp_path / "v.txt"), rows)
