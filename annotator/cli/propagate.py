"""``annotator propagate PROJECT``: human 3D joints -> 2D labels in every camera."""

from __future__ import annotations

import argparse

from annotator.cli.support import tqdm_progress

#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 60


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "propagate",
        help="project human 3D labels into every camera (writes propagated.h5)",
    )
    p.add_argument("project", help="project folder")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    return p


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from annotator.store import ProjectStore

    with (
        ProjectStore.open(args.project, mode="w") as store,
        tqdm_progress("propagating", "instant") as progress,
    ):
        summary = store.write_propagation(progress=progress)
    if args.json:
        print(json.dumps(dataclasses.asdict(summary)))
    else:
        print(
            f"propagated {summary.instants} instants: {summary.labelled_views} labelled "
            f"views, {summary.joint_views} visible 2D joints -> {summary.path}"
        )
    return 0
