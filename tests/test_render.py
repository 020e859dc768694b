"""The rasteriser's compositor: painting only covered pixels changes no pixel."""

import numpy as np

from serendip.tasks import render


def test_compose_equals_painting_whole_images_then_converting():
    rng = np.random.default_rng(0)
    background = rng.uniform(0, 1, (1, 64, 64, 3)).astype(np.float32)
    centres = rng.uniform(0, 64, (20, 3, 2))
    discs = render.discs_coverage(centres, 4.0)
    segments = render.segments_coverage(centres[:, :2], centres[:, 1:], 1.5)
    layers = [(discs, render.BLUE), (segments, render.BLACK), (discs * 0.5, render.ORANGE)]
    images = np.repeat(background, 20, axis=0)
    for coverage, color in layers:
        render.paint(images, coverage, color)
    expected = render.to_uint8(images)
    np.testing.assert_array_equal(render.compose(background, layers), expected)
    # Uncovered pixels are the background's.
    plain = render.compose(background, [(np.zeros((2, 64, 64), np.float32), render.RED)])
    np.testing.assert_array_equal(plain, np.repeat(render.to_uint8(background.copy()), 2, 0))
