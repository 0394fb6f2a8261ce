"""Writes the parity reference for one PNG fixture (lossless, so both sides decode the same
pixels): the detector input (sampled), detections, and for each PAD model its crop, full input
tensor (little-endian f32) and logits, all from onnxruntime. Usage: MODELS_DIR OUT_DIR"""
import json
import sys
from pathlib import Path

import numpy as np

import ortref

IMAGE = "astronaut.png"
SIDE = 256
SAMPLE_STRIDE = 97


def main(models_dir, out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    engine = ortref.Engine(models_dir, SIDE, threads=1)
    rgb = ortref.load_rgb(Path(models_dir) / IMAGE)
    det_input, faces = engine.detect(rgb, score_threshold=0.6)
    flat = det_input.ravel()
    x2, x4, l2, l4, prob = engine.liveness(rgb, faces[0][1])
    pad = {}
    for name, scale, tensor, logits in (("MiniFASNetV2", 2.7, x2, l2), ("MiniFASNetV1SE", 4.0, x4, l4)):
        file = f"{name}.input.f32"
        tensor.astype("<f4").tofile(out / file)
        pad[name] = {
            "crop_scale": scale,
            "crop": list(ortref.crop_box(rgb.shape[1], rgb.shape[0], faces[0][1], scale)),
            "input_file": file,
            "logits": [float(v) for v in logits],
        }
    reference = {
        "generator": "scripts/parity-reference (onnxruntime %s)" % ortref.ort.__version__,
        "image": IMAGE,
        "detector_input_side": SIDE,
        "detector_input": {
            "sum": float(flat.astype(np.float64).sum()),
            "sample_stride": SAMPLE_STRIDE,
            "samples": [float(v) for v in flat[::SAMPLE_STRIDE]],
        },
        "faces": [
            {
                "score": float(s),
                "box": [float(v) for v in b],
                "landmarks": [[float(x), float(y)] for x, y in lm],
            }
            for s, b, lm in faces
        ],
        "pad": pad,
        "face_liveness_probability": prob,
    }
    (out / "reference.json").write_text(json.dumps(reference, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
