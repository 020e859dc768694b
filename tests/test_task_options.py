"""Built-in and user tasks' ``task_options``: horizon and reward areas, checked in one line."""

import numpy as np
import pytest
import yaml

import serendip
from serendip.cli import main
from serendip.tasks import TASKS, check_task_options, make_task, task_spec
from serendip.tasks.base import RewardArea

AREAS = [{"center": [0.0, 0.9], "radius": 0.1}, {"center": [-0.5, -0.5], "radius": 0.4}]


@pytest.mark.parametrize("name", list(TASKS.names()))
def test_no_option_keeps_every_built_in_task_as_specified(name):
    factory = TASKS[name].load()
    assert factory.configured_spec(None) is factory.spec
    assert factory.configured_spec({}) is factory.spec
    assert check_task_options(name, {}) == {}
    assert task_spec(name, options={}) is factory.spec


def test_the_point_tasks_horizon_and_reward_areas():
    task = make_task("point", options={"horizon": 20, "reward_areas": AREAS})
    assert task.spec.horizon == 20 and len(task.spec.reward_areas) == 2
    assert task.spec.reward_areas[0] == RewardArea((0.0, 0.9), 0.1)
    assert task_spec("point", options={"horizon": 20}).horizon == 20
    g = np.random.default_rng(0).standard_normal((50, task.genome_size))
    batch = task.evaluate(g)
    default = make_task("point").evaluate(g)
    assert not np.array_equal(batch.descriptors, default.descriptors)  # 20 steps, not 50
    inside = np.hypot(batch.descriptors[:, 0] + 0.5, batch.descriptors[:, 1] + 0.5) < 0.4
    np.testing.assert_array_equal(batch.reward_areas == 1, inside)
    # The frames show the areas that score.
    frames = make_task("point", n_frames=1, options={"reward_areas": AREAS}).evaluate(g[:1])
    plain = make_task("point", n_frames=1).evaluate(g[:1])
    assert not np.array_equal(frames.frames, plain.frames)


def test_an_empty_options_mapping_changes_nothing():
    g = np.random.default_rng(1).standard_normal((20, 228))
    a = make_task("arm", options={}).evaluate(g)
    b = make_task("arm").evaluate(g)
    np.testing.assert_array_equal(a.descriptors, b.descriptors)
    np.testing.assert_array_equal(a.rewards, b.rewards)


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ({"speed": 2}, "task_options.speed", "accepted: horizon, reward_areas"),
        ({"horizon": 0}, "task_options.horizon", "must be an integer in [1, 10,000,000]"),
        ({"horizon": 1.5}, "task_options.horizon", "must be an integer"),
        ({"horizon": True}, "task_options.horizon", "must be an integer"),
        ({"horizon": "10"}, "task_options.horizon", "must be an integer"),
        ({"horizon": 10**12}, "task_options.horizon", "must be an integer"),
        ({"reward_areas": []}, "task_options.reward_areas", "at least one"),
        ({"reward_areas": "x"}, "task_options.reward_areas", "a list of {center"),
        ({"reward_areas": [{"center": [0, 0]}]}, "task_options.reward_areas[0]", "radius: r}"),
        (
            {"reward_areas": [{"center": [0, 0, 1], "radius": 0.1}]},
            "task_options.reward_areas[0].center",
            "two numbers",
        ),
        (
            {"reward_areas": [{"center": [0, 5], "radius": 0.1}]},
            "task_options.reward_areas[0].center",
            "must lie in the task's world [-1, 1] x [-1, 1]",
        ),
        (
            {"reward_areas": [{"center": [0, 0], "radius": 0}]},
            "task_options.reward_areas[0].radius",
            "a positive number",
        ),
        (
            {"reward_areas": [{"center": [0, 0], "radius": float("nan")}]},
            "task_options.reward_areas",
            "must be a finite number",
        ),
    ],
)
def test_bad_options_are_one_line_naming_the_option(options, field, message):
    with pytest.raises(serendip.ConfigError) as raised:
        serendip.RunConfig.from_dict({"task": "point", "task_options": options})
    assert raised.value.field == field
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_task_options_from_the_command_line_are_recorded_and_used(tmp_path, capsys):
    out = tmp_path / "run"
    area = "reward_areas=[{center: [-0.7, 0.7], radius: 0.3}]"
    flags = ["--task", "point", "--algo", "ns", "--budget", "300", "--out", str(out)]
    assert main(["run", *flags, "--task-option", "horizon=30", "--task-option", area]) == 0
    capsys.readouterr()
    run = serendip.load_run(out)
    recorded = yaml.safe_load((out / "config.yaml").read_text())["task_options"]
    assert recorded == {"horizon": 30, "reward_areas": [{"center": [-0.7, 0.7], "radius": 0.3}]}
    assert run.config.task_options == recorded
    assert run.summary["reward_areas_total"] == 1
    code = main(["run", "--task", "arm", "--task-option", "horizon=-3"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("serendip: error: task_options.horizon:") and err.count("\n") == 1


def test_a_user_tasks_options_are_its_factorys_keyword_arguments():
    from serendip.tasks.point import PointTask

    def shifted(n_frames=0, start_y=-0.8):
        task = PointTask(n_frames=n_frames)
        task.start_y = start_y
        return task

    serendip.register_task("optioned-point", shifted, replace=True)
    try:
        config = serendip.RunConfig.from_dict(
            {"task": "optioned-point", "task_options": {"start_y": 0.5}}
        )
        assert make_task(config.task, options=config.task_options).start_y == 0.5
        with pytest.raises(serendip.ConfigError, match=r"accepted: start_y"):
            serendip.RunConfig.from_dict({"task": "optioned-point", "task_options": {"x": 1}})
    finally:
        TASKS.unregister("optioned-point")
