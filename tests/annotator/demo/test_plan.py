"""The demo's plan: every stage is a command the real ``annotator`` parser accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotator.cli.main import build_parser
from annotator.demo.plan import FASTEST_STEPS_PER_S, SIZES, TABLE4_LABELS, build_plan


@pytest.mark.parametrize("name", sorted(SIZES))
def test_every_stage_parses_with_the_real_cli(name, tmp_path: Path) -> None:
    parser = build_parser()
    for stage in build_plan(tmp_path / "out", SIZES[name]):
        args = parser.parse_args([*stage.argv, *stage.resume_argv])
        assert args.command == stage.argv[0]
        assert stage.command.startswith(f"annotator {stage.argv[0]} ")
        # a placeholder swallows its arguments; a real command names them
        assert not getattr(args, "rest", None), f"{stage.argv[0]} is still a placeholder"


def test_sizes_grow_and_hold_out_subjects() -> None:
    tiny, quick, full = SIZES["tiny"], SIZES["quick"], SIZES["full"]
    for a, b in ((tiny, quick), (quick, full)):
        assert a.cameras * a.instants < b.cameras * b.instants
        assert a.labeler_steps < b.labeler_steps and a.internet_steps < b.internet_steps
    for size in SIZES.values():
        assert size.held_in_subjects and size.held_out_subjects
        assert not set(size.held_in_subjects) & set(size.held_out_subjects)
        assert size.views_curve()[-1] == size.cameras
        assert list(size.views_curve()) == sorted(set(size.views_curve()))
    assert set(full.table4) == set(TABLE4_LABELS)  # the paper's Table 4: H, M and H+M


def test_time_budgets_not_step_caps_end_the_timed_trainings() -> None:
    # a faster machine must get more training, not an idle budget: each cap is >= 5x what
    # the fastest rate seen reaches in the training's budget
    for size in (SIZES["quick"], SIZES["full"]):
        for steps, minutes, kind in (
                (size.labeler_steps, size.labeler_minutes, "labeler"),
                (size.round_steps, size.round_minutes, "labeler"),
                (size.internet_steps, size.internet_minutes, "internet")):
            assert minutes is not None, (size.name, kind)
            assert steps >= 5 * FASTEST_STEPS_PER_S[kind] * 60 * minutes, (size.name, kind)


def test_stage_names_unique_and_outputs_inside_out(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    stages = build_plan(out, SIZES["full"])
    names = [s.name for s in stages]
    assert len(names) == len(set(names))
    assert names[:5] == ["synth", "simulate-annotator", "propagate", "bootstrap", "evaluate"]
    boot = stages[3].argv
    assert boot[0] == "bootstrap" and boot[boot.index("--rounds") + 1] == "1"
    # round 0 and the later rounds have their own budgets; every training has a cap too
    assert boot[boot.index("--max-minutes") + 1] == "10"
    assert boot[boot.index("--round-minutes") + 1] == "6"
    for stage in stages:
        paths = [a for a in stage.argv if a.startswith(str(tmp_path))]
        assert all(p.startswith(str(out)) for p in paths)


def test_only_the_machine_row_takes_the_stored_hand_types(tmp_path: Path) -> None:
    """H and H+M learn handedness from the hands people decided; M has none of those and
    takes the machine's verdicts (``--hand-types stored``)."""
    parser = build_parser()
    seen = {}
    for stage in build_plan(tmp_path / "out", SIZES["full"]):
        if stage.argv[0] == "train-internet":
            args = parser.parse_args(list(stage.argv))
            seen[args.labels] = args.hand_types
    assert seen == {"human": "people", "machine": "stored", "all": "people"}
