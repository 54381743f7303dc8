"""``annotator merge PROJECT``: machine-labelling shards -> labels.h5 (source "machine")."""

from __future__ import annotations

import argparse

from annotator.cli.support import check_writable_folder, tqdm_progress

#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 90


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "merge",
        help="merge machine-labelling shards into the labels (human labels always win)",
        description="Check that every instant of the last 'annotator machine-label' run is in "
        "exactly one machine/shard-*.h5, write the lifted 3D joints as machine labels (never "
        "over human ones), flag joints that failed quality checks for review, and gather the "
        "per-view detections into machine/detections.h5 (read by 'annotator evaluate').",
    )
    p.add_argument("project", help="project folder")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    return p


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from annotator.machine_labels.merge import merge_machine_labels
    from annotator.store import ProjectStore

    check_writable_folder(args.project, "PROJECT")
    with (
        ProjectStore.open(args.project, mode="w") as store,
        tqdm_progress("merging", "instant") as progress,
    ):
        report = merge_machine_labels(store, progress=progress)
    if args.json:
        d = dataclasses.asdict(report)
        d["bad_images"] = [dataclasses.asdict(b) for b in report.bad_images]
        print(json.dumps(d))
        return 0
    print(
        f"merged {report.instants} instants from {report.shards} shard(s): "
        f"{report.joints_written} machine joints written, {report.joints_kept_human} left to "
        f"human labels, {report.joints_flagged} flagged for review -> {report.detections_path}"
    )
    if report.bad_images:
        print(f"{len(report.bad_images)} image(s) were skipped while labelling, e.g. "
              f"instant {report.bad_images[0].instant} camera {report.bad_images[0].camera}: "
              f"{report.bad_images[0].reason}")
    return 0
