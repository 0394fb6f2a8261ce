"""Independent reference of the face-analysis engine in numpy + onnxruntime.

It follows the preprocessing documented in models/README.md (not the Rust code): letterbox
resize with half-pixel bilinear sampling, BGR 0-255 NCHW, YuNet decoding with
score = sqrt(cls*obj), NMS, Silent-Face clamp-shift crops resized to 80x80, fused softmax.
Used by scripts/parity-reference (test data) and by the engine benchmark (timing).
"""
import math

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

STRIDES = (8, 16, 32)


def load_rgb(path):
    return np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"), dtype=np.uint8)


def _axis(src_len, dst_len):
    scale = src_len / dst_len
    s = (np.arange(dst_len, dtype=np.float64) + 0.5) * scale - 0.5
    s = np.clip(s, 0.0, src_len - 1)
    i0 = np.floor(s).astype(np.int64)
    i0 = np.minimum(i0, src_len - 1)
    i1 = np.minimum(i0 + 1, src_len - 1)
    f = (s - i0).astype(np.float32)
    return i0, i1, f


def resize_bilinear(rgb, out_w, out_h):
    """Half-pixel bilinear resize of an HxWx3 uint8 array to float32 (no rounding)."""
    h, w, _ = rgb.shape
    x0, x1, fx = _axis(w, out_w)
    y0, y1, fy = _axis(h, out_h)
    img = rgb.astype(np.float32)
    top = img[y0][:, x0] * (1 - fx)[None, :, None] + img[y0][:, x1] * fx[None, :, None]
    bot = img[y1][:, x0] * (1 - fx)[None, :, None] + img[y1][:, x1] * fx[None, :, None]
    return top * (1 - fy)[:, None, None] + bot * fy[:, None, None]


def to_bgr_nchw(hwc):
    return np.ascontiguousarray(hwc[:, :, ::-1].transpose(2, 0, 1)[None]).astype(np.float32)


def letterbox(rgb, side):
    h, w, _ = rgb.shape
    scale = side / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    canvas = np.zeros((side, side, 3), dtype=np.float32)
    canvas[:nh, :nw] = resize_bilinear(rgb, nw, nh)
    return to_bgr_nchw(canvas), (w / nw, h / nh)


def decode_yunet(outputs, side, score_threshold):
    faces = []
    for stride in STRIDES:
        cols = side // stride
        cls = outputs[f"cls_{stride}"][0, :, 0]
        obj = outputs[f"obj_{stride}"][0, :, 0]
        bbox = outputs[f"bbox_{stride}"][0]
        kps = outputs[f"kps_{stride}"][0]
        score = np.sqrt(np.clip(cls, 0, 1) * np.clip(obj, 0, 1))
        for idx in np.nonzero(score >= score_threshold)[0]:
            r, c = divmod(int(idx), cols)
            cx = (c + bbox[idx, 0]) * stride
            cy = (r + bbox[idx, 1]) * stride
            bw = math.exp(bbox[idx, 2]) * stride
            bh = math.exp(bbox[idx, 3]) * stride
            lm = [((c + kps[idx, 2 * k]) * stride, (r + kps[idx, 2 * k + 1]) * stride) for k in range(5)]
            faces.append((float(score[idx]), [cx - bw / 2, cy - bh / 2, bw, bh], lm))
    faces.sort(key=lambda f: -f[0])
    kept = []
    for f in faces:
        if all(_iou(f[1], k[1]) <= 0.3 for k in kept):
            kept.append(f)
    return kept


def _iou(a, b):
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def crop_box(img_w, img_h, box, scale):
    """Silent-Face's clamp-shift crop: inclusive integer corners."""
    x, y, bw, bh = box
    scale = min((img_h - 1) / bh, (img_w - 1) / bw, scale)
    nw, nh = bw * scale, bh * scale
    cx, cy = x + bw / 2, y + bh / 2
    l, t, r, b = cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2
    if l < 0:
        r -= l
        l = 0
    if t < 0:
        b -= t
        t = 0
    if r > img_w - 1:
        l -= r - img_w + 1
        r = img_w - 1
    if b > img_h - 1:
        t -= b - img_h + 1
        b = img_h - 1
    return int(l), int(t), int(r), int(b)


def pad_input(rgb, box, scale):
    h, w, _ = rgb.shape
    l, t, r, b = crop_box(w, h, box, scale)
    return to_bgr_nchw(resize_bilinear(rgb[t : b + 1, l : r + 1], 80, 80)), (l, t, r, b)


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


class Engine:
    def __init__(self, models_dir, side=320, threads=1):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        prov = ["CPUExecutionProvider"]
        self.side = side
        self.det = ort.InferenceSession(f"{models_dir}/yunet_s_dynamic.onnx", opts, providers=prov)
        self.v2 = ort.InferenceSession(f"{models_dir}/MiniFASNetV2.onnx", opts, providers=prov)
        self.v1se = ort.InferenceSession(f"{models_dir}/MiniFASNetV1SE.onnx", opts, providers=prov)

    def detect(self, rgb, score_threshold=0.6):
        tensor, (sx, sy) = letterbox(rgb, self.side)
        names = [o.name for o in self.det.get_outputs()]
        outs = dict(zip(names, self.det.run(None, {"input": tensor})))
        faces = []
        for score, (x, y, bw, bh), lm in decode_yunet(outs, self.side, score_threshold):
            faces.append((score, [x * sx, y * sy, bw * sx, bh * sy], [(px * sx, py * sy) for px, py in lm]))
        return tensor, faces

    def liveness(self, rgb, box):
        x2, _ = pad_input(rgb, box, 2.7)
        x4, _ = pad_input(rgb, box, 4.0)
        l2 = self.v2.run(None, {"input": x2})[0][0]
        l4 = self.v1se.run(None, {"input": x4})[0][0]
        return x2, x4, l2, l4, float((softmax(l2)[1] + softmax(l4)[1]) / 2)
