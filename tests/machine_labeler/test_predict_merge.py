"""Test-time mirroring and ensembles in ``predict_crops``: the mirrored pass is mapped back
onto the crop's joints, hands crossed by the network are paired back, and the passes are
averaged (stand-in networks whose outputs are known exactly, and the real detector)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from annotator import skeleton
from machine_labeler.codec import HeatmapCodec
from machine_labeler.config import CONFIGS
from machine_labeler.model import KeypointDetector
from machine_labeler.predict import predict_crops

S, H = 96, 24  # crop and heatmap sides (cpu-small)
J, N = skeleton.NUM_JOINTS, skeleton.JOINTS_PER_HAND
CODEC = HeatmapCodec(S, H, 1.5)


def _quadratic_logits(uv_crop: np.ndarray) -> torch.Tensor:
    """(B, J, H, H) logits whose Newton-step decode is exactly ``uv_crop`` (B, J, 2): the log
    of a Gaussian, a quadratic (and averages of quadratics of one curvature peak midway)."""
    m = CODEC.crop_to_heat(uv_crop)
    g = np.arange(H, dtype=np.float64)
    lx = -((g - m[..., 0:1]) ** 2) / (2 * 1.5**2)
    ly = -((g - m[..., 1:2]) ** 2) / (2 * 1.5**2)
    return torch.as_tensor(ly[..., :, None] + lx[..., None, :], dtype=torch.float32)


class _KnownNet(torch.nn.Module):
    """Answers the registered crops with given joints; a mirrored crop with the mirrored
    joints (``u -> S - 1 - u``, right <-> left), shifted by ``mirror_shift`` and with its
    hands' channels crossed where ``cross`` says (the network's own choice of channel sets)."""

    def __init__(self, crops: torch.Tensor, uv: np.ndarray, mirror_shift=(0.0, 0.0),
                 cross=None, shift=(0.0, 0.0)):
        super().__init__()
        self.crops, self.uv = crops, uv
        self.shift = np.asarray(shift, np.float64)
        self.mirror_shift = np.asarray(mirror_shift, np.float64)
        self.cross = np.zeros(len(uv), bool) if cross is None else np.asarray(cross)

    def forward(self, x, with_logits=False):
        out = []
        for img in x:
            k = next((k for k, c in enumerate(self.crops) if torch.equal(c, img)), None)
            if k is not None:
                out.append(self.uv[k] + self.shift)
                continue
            k = next(k for k, c in enumerate(self.crops) if torch.equal(c.flip(-1), img))
            mirrored = self.uv[k][skeleton.FLIP_INDEX].copy()
            mirrored[:, 0] = S - 1 - mirrored[:, 0]
            if self.cross[k]:
                mirrored = np.concatenate([mirrored[N:], mirrored[:N]])
            out.append(mirrored + self.mirror_shift)
        logits = _quadratic_logits(np.stack(out))
        heat = torch.exp(logits)
        return (heat, logits) if with_logits else heat


def _crops_and_joints(b: int, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    rng = np.random.default_rng(seed)
    crops = torch.as_tensor(rng.random((b, 3, S, S)), dtype=torch.float32)
    uv = rng.uniform(12, S - 13, (b, J, 2))
    return crops, uv


def test_an_equivariant_network_gives_the_same_joints_mirrored_or_not():
    crops, uv = _crops_and_joints(3)
    net = _KnownNet(crops, uv)
    plain = predict_crops(net, CODEC, crops)
    both = predict_crops(net, CODEC, crops, flip=True)
    np.testing.assert_allclose(plain.uv_crop_px, uv, atol=1e-6)
    np.testing.assert_allclose(both.uv_crop_px, uv, atol=1e-6)


def test_the_mirrored_pass_is_averaged_in():
    """A mirrored pass 2 px off to the right lands the merged joints 1 px off."""
    crops, uv = _crops_and_joints(2, seed=1)
    net = _KnownNet(crops, uv, mirror_shift=(-2.0, 0.0))  # -2 px in the mirror: +2 px back
    got = predict_crops(net, CODEC, crops, flip=True).uv_crop_px
    np.testing.assert_allclose(got - uv, np.broadcast_to([1.0, 0.0], uv.shape), atol=1e-6)


def test_hands_the_mirrored_pass_crossed_are_paired_back():
    """Where the network put the hands in the other channel sets for the mirror (a two-hand
    crop), the merge crosses them back instead of averaging one hand with the other."""
    crops, uv = _crops_and_joints(4, seed=2)
    cross = np.array([True, False, True, False])
    net = _KnownNet(crops, uv, mirror_shift=(-2.0, 0.0), cross=cross)
    got = predict_crops(net, CODEC, crops, flip=True).uv_crop_px
    np.testing.assert_allclose(got - uv, np.broadcast_to([1.0, 0.0], uv.shape), atol=1e-6)


def test_an_ensemble_averages_its_members_and_pairs_their_hands():
    crops, uv = _crops_and_joints(3, seed=3)
    a = _KnownNet(crops, uv, shift=(0.0, 1.5))
    b = _KnownNet(crops, uv[:, np.r_[N:J, 0:N]], shift=(0.0, -1.5))  # hands the other way
    got = predict_crops([a, b], CODEC, crops).uv_crop_px
    np.testing.assert_allclose(got, uv, atol=1e-6)
    mirrored = predict_crops([a, b], CODEC, crops, flip=True).uv_crop_px
    np.testing.assert_allclose(mirrored, uv, atol=1e-6)
    with pytest.raises(ValueError, match="no model"):
        predict_crops([], CODEC, crops)


def test_the_real_detector_mirrored():
    """cpu-small from random weights: the mirrored pass runs in the same forward and
    changes the answer; mirroring a crop mirrors the merged joints (the merge is symmetric
    in the two passes)."""
    torch.manual_seed(0)
    model = KeypointDetector(CONFIGS["cpu-small"]).eval()
    crops = np.random.default_rng(4).integers(0, 255, (2, S, S, 3), dtype=np.uint8)
    plain = predict_crops(model, CODEC, crops)
    both = predict_crops(model, CODEC, crops, flip=True)
    assert both.uv_crop_px.shape == (2, J, 2) and np.isfinite(both.uv_crop_px).all()
    assert not np.allclose(plain.uv_crop_px, both.uv_crop_px)
    assert predict_crops(model, CODEC, crops[:0], flip=True).uv_crop_px.shape == (0, J, 2)
