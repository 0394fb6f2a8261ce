"""Writes the parity reference for one PNG fixture (lossless, so both sides decode the same
pixels): the detector input (sampled), detections, and for each PAD model its crop, full input
tensor (little-endian f32) and logits, all from onnxruntime.

The facenox MiniFASNetV2-SE gets three entries, each with the image, the box it was given (as
f32 values, what the engine holds), its crop [x0, y0, size], input tensor, logits [real, spoof]
and p_real: the fixture's face (area shrink path); the same face detected on SMALL_IMAGE, the
fixture box-downscaled by 4 and written next to reference.json (Lanczos enlarge path); and the
fixture's face box shifted up-left so that the square crosses the image's top and left borders
(reflect-101 path, negative offsets truncated toward zero). Usage: MODELS_DIR OUT_DIR"""
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import ortref

IMAGE = "astronaut.png"
SIDE = 256
SAMPLE_STRIDE = 97
# Written to OUT_DIR (not an asset): IMAGE resized with PIL's BOX filter to a quarter per side.
SMALL_IMAGE = "astronaut_small.png"
SMALL_FACTOR = 4
# Shift (dx, dy) of the fixture's face box for the facenox border-crossing entry.
BORDER_SHIFT = (-150.0, -60.0)


def write_small_image(models_dir, out):
    """The downscaled fixture; rewritten only when its pixels change (PNG bytes vary by encoder)."""
    img = Image.open(Path(models_dir) / IMAGE).convert("RGB")
    small = img.resize((img.width // SMALL_FACTOR, img.height // SMALL_FACTOR), Image.BOX)
    path = out / SMALL_IMAGE
    if not path.exists() or not np.array_equal(ortref.load_rgb(path), np.asarray(small)):
        small.save(path, optimize=True)
    return ortref.load_rgb(path)


def f32_box(box):
    return [float(np.float32(v)) for v in box]


def facenox_entry(engine, out, name, rgb, box, image):
    file = f"{name}.input.f32"
    tensor, logits, crop = engine.facenox_logits(rgb, box)
    tensor.astype("<f4").tofile(out / file)
    return {
        "image": image,
        "box": box,
        "crop": list(crop),
        "input_file": file,
        "logits": [float(v) for v in logits],
        "p_real": float(ortref.softmax(logits.astype(np.float64))[0]),
    }


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
    box = f32_box(faces[0][1])
    pad["facenox_minifasnetv2se"] = facenox_entry(engine, out, "facenox_minifasnetv2se", rgb, box, IMAGE)
    small = write_small_image(models_dir, out)
    _, small_faces = engine.detect(small, score_threshold=0.6)
    pad["facenox_minifasnetv2se_enlarge"] = facenox_entry(
        engine, out, "facenox_minifasnetv2se_enlarge", small, f32_box(small_faces[0][1]), SMALL_IMAGE
    )
    shifted = f32_box([box[0] + BORDER_SHIFT[0], box[1] + BORDER_SHIFT[1], box[2], box[3]])
    pad["facenox_minifasnetv2se_border"] = facenox_entry(
        engine, out, "facenox_minifasnetv2se_border", rgb, shifted, IMAGE
    )
    # Each entry must keep exercising its path: shrink, enlarge, crop across the border.
    assert pad["facenox_minifasnetv2se"]["crop"][2] >= ortref.FACENOX_SIDE
    assert pad["facenox_minifasnetv2se_enlarge"]["crop"][2] < ortref.FACENOX_SIDE
    assert min(pad["facenox_minifasnetv2se_border"]["crop"][:2]) < 0
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
