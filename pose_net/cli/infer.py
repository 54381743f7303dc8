"""``annotator infer CKPT IMAGE --bbox X Y W H --out PNG``: 3D hands from one image and a box."""

from __future__ import annotations

import argparse

from annotator.cli.support import CliError, check_output_file

#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 140


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "infer",
        help="3D joints of both hands from one image and a hand box (InterNet), as a picture",
        description=(
            "Crop the box (padded to a square x1.25), run InterNet, put both hands in camera "
            "mm and draw the 2D skeleton over the image beside a 3D view. Root depth: "
            "--rootnet CKPT, else --root-depth MM, else the pinhole distance of a 300 mm hand "
            "filling the box. Camera: --camera-json (any calibration format the toolkit "
            "reads) and --camera NAME, else a pinhole with f = max(W, H)."
        ),
    )
    p.add_argument("checkpoint", help="InterNet checkpoint (train-internet's, or a released "
                                      "InterHand2.6M snapshot_*.pth.tar)")
    p.add_argument("image", help="image file")
    p.add_argument("--bbox", type=float, nargs=4, required=True, metavar=("X", "Y", "W", "H"),
                   help="hand box in image px (both hands for an interacting pair)")
    p.add_argument("--camera-json", default=None, metavar="FILE",
                   help="calibration file (cameras.toml, InterHand2.6M *_camera.json, ...)")
    p.add_argument("--camera", default=None, metavar="NAME", help="camera name in that file")
    p.add_argument("--capture", default=None, help="capture id (files with several captures)")
    p.add_argument("--rootnet", default=None, metavar="CKPT", help="RootNet checkpoint")
    p.add_argument("--root-depth", type=float, default=None, metavar="MM",
                   help="camera depth of the right wrist (or of the only hand's), mm")
    p.add_argument("--out", required=True, metavar="PNG", help="picture to write")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the joints as JSON")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    return p


def _camera(args: argparse.Namespace, width: int, height: int):
    from triangulation.io import load_rigs

    rigs = load_rigs(args.camera_json, image_size=(width, height))
    if args.capture is not None:
        if str(args.capture) not in rigs:
            raise ValueError(f"{args.camera_json}: no capture {args.capture!r}")
        rigs = {str(args.capture): rigs[str(args.capture)]}
    if args.camera is None:
        cams = [c for rig in rigs.values() for c in rig]
        if len(cams) != 1:
            raise ValueError(f"{args.camera_json}: holds {len(cams)} cameras; choose one with "
                             "--camera NAME")
        return cams[0]
    found = [(cap, rig[args.camera]) for cap, rig in rigs.items() if args.camera in rig]
    if not found:
        raise ValueError(f"{args.camera_json}: no camera {args.camera!r}")
    if len(found) > 1:
        raise ValueError(f"{args.camera_json}: camera {args.camera!r} is in several captures "
                         f"({', '.join(c for c, _ in found)}); choose one with --capture")
    return found[0][1]


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from annotator.images import read_image_rgb
    from pose_net.checkpoint import load_model
    from pose_net.draw import draw_result, picture_formats
    from pose_net.infer import predict_hands
    from pose_net.internet import InterNet
    from pose_net.rootnet import RootNet

    check_output_file(args.out, "--out", suffixes=picture_formats())
    if args.json is not None:
        check_output_file(args.json, "--json")
    model = load_model(args.checkpoint, map_location=args.device)
    if not isinstance(model, InterNet):
        raise CliError(f"{args.checkpoint}: not an InterNet checkpoint")
    rootnet = None
    if args.rootnet is not None:
        rootnet = load_model(args.rootnet, map_location=args.device)
        if not isinstance(rootnet, RootNet):
            raise CliError(f"{args.rootnet}: not a RootNet checkpoint")
    image = read_image_rgb(args.image)
    camera = None
    if args.camera_json is not None:
        camera = _camera(args, image.shape[1], image.shape[0])
    elif args.camera is not None:
        raise CliError("--camera needs --camera-json")
    result = predict_hands(model, image, args.bbox, camera, rootnet=rootnet,
                           root_depth_mm=args.root_depth, device=args.device)
    draw_result(image, result, args.out, title=Path(args.image).name)
    if args.json is not None:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result.to_dict(), indent=1) + "\n")
    hands = [h for h, p in zip(("right", "left"), result.hand_present, strict=True) if p]
    print(f"hands: {', '.join(hands) or 'none above 0.5'} (p = "
          f"{result.handedness[0]:.2f} / {result.handedness[1]:.2f}); wrists at "
          f"{result.root_depth_mm[0]:.0f} / {result.root_depth_mm[1]:.0f} mm "
          f"({result.root_source}); picture: {args.out}")
    return 0
