"""TensorBoard scalars: written when asked for, readable as TensorBoard event records."""

from __future__ import annotations

import struct

import pytest

import serendip

event_pb2 = pytest.importorskip("tensorboardX.proto.event_pb2")


def read_scalars(directory) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of the event files in ``directory``, by tag (TFRecord framing)."""
    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(directory.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack_from("<Q", data, offset)
            payload = data[offset + 12 : offset + 12 + length]
            offset += 12 + length + 4
            event = event_pb2.Event.FromString(payload)
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars


def test_scalars_follow_the_run(tmp_path):
    config = serendip.RunConfig.from_dict(
        {
            "task": "point",
            "algorithm": "taxons",
            "budget": 2500,
            "frames": 1,
            "metrics_every": 500,
            "tensorboard": True,
            "learned_space": {"max_epochs": 2, "max_training_frames": 200, "threads": 1},
            "exploitation": {"chunk_size": 500},
            "out": str(tmp_path / "run"),
        }
    )
    result = serendip.run(config, progress=False)
    scalars = read_scalars(result.path / "tensorboard")
    steps = [step for step, _ in scalars["search/coverage"]]
    assert steps == sorted(steps) and steps[-1] == 2500
    buckets = [step // 500 for step in steps]  # one point per 500 evaluations crossed
    assert buckets == sorted(set(buckets)) and len(buckets) >= 5
    assert scalars["search/coverage"][-1][1] == pytest.approx(result.summary["coverage"])
    assert "process/novelty_archive" in scalars
    trainings = (result.path / "autoencoder" / "trainings.jsonl").read_text().splitlines()
    assert len(scalars["autoencoder/validation_loss"]) == len(trainings) >= 1


def test_off_by_default_and_validated(tmp_path):
    config = serendip.RunConfig.from_dict({"task": "point", "algorithm": "ns", "budget": 300})
    assert config.tensorboard is False
    with pytest.raises(serendip.ConfigError, match="tensorboard"):
        serendip.RunConfig.from_dict({"tensorboard": "yes"})
