"""Independent reference of the face-analysis engine in numpy + onnxruntime.

It follows the preprocessing documented in models/README.md (not the Rust code): letterbox
resize with half-pixel bilinear sampling, BGR 0-255 NCHW, YuNet decoding with
score = sqrt(cls*obj), NMS, Silent-Face clamp-shift crops resized to 80x80, fused softmax.
For the optional facenox MiniFASNetV2-SE (face_antispoof_minifasnetv2se_128.onnx) it follows
its written specification instead (models/manifest.toml, crop = "square-reflect"): a 1.5x
square crop with reflect-101 borders, OpenCV's INTER_AREA (shrink) or INTER_LANCZOS4
(enlarge) weights applied in float64, rounded half to even and clamped to 0-255 once,
reflect-101 pad to 128x128, RGB / 255 NCHW, P(real) = softmax(logits)[0].
Used by scripts/parity-reference (test data) and by the engine benchmark (timing).
"""
import math
import os

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


FACENOX_SIDE = 128
FACENOX_EXPANSION = 1.5
FLT_EPSILON = 1.1920929e-7
_S45 = 0.7071067811865476
_LANCZOS_CS = ((1, 0), (-_S45, -_S45), (0, 1), (_S45, -_S45), (-1, 0), (_S45, _S45), (0, -1), (-_S45, _S45))


def reflect101(i, n):
    """OpenCV BORDER_REFLECT_101 index (gfedcb|abcdefgh|gfedcba), repeated for wide pads."""
    if n == 1:
        return 0
    while True:
        if i < 0:
            i = -i
        elif i >= n:
            i = 2 * n - 2 - i
        else:
            return i


def _reflect_indices(start, length, size):
    """Source indices of `length` positions from `start` (may be < 0 or run past `size`):
    reflect-101 about the part [a, b) of that range inside [0, size)."""
    a, b = max(0, start), min(size, start + length)
    if b <= a:
        raise ValueError(f"crop [{start}, {start + length}) does not overlap [0, {size})")
    return np.array([a + reflect101(start + c - a, b - a) for c in range(length)], dtype=np.int64)


def area_weights(src_len, dst_len):
    """OpenCV INTER_AREA (general path) weights as a dense float64 [dst_len, src_len] matrix."""
    w = np.zeros((dst_len, src_len), dtype=np.float64)
    scale = src_len / dst_len
    for d in range(dst_len):
        fsx1 = d * scale
        fsx2 = fsx1 + scale
        cell = min(scale, src_len - fsx1)
        sx1, sx2 = math.ceil(fsx1), math.floor(fsx2)
        sx2 = min(sx2, src_len - 1)
        sx1 = min(sx1, sx2)
        if sx1 - fsx1 > 1e-3:
            w[d, sx1 - 1] += (sx1 - fsx1) / cell
        for sx in range(sx1, sx2):
            w[d, sx] += 1.0 / cell
        if fsx2 - sx2 > 1e-3:
            w[d, sx2] += min(min(fsx2 - sx2, 1.0), cell) / cell
    return w


def lanczos4_coefficients(t):
    """The 8 normalised Lanczos-4 coefficients for taps s-3 .. s+4 at fraction t in [0, 1)."""
    if t < FLT_EPSILON:
        return [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    y0 = -(t + 3) * math.pi / 4
    s0, c0 = math.sin(y0), math.cos(y0)
    coeffs = []
    for k, (cs_s, cs_c) in enumerate(_LANCZOS_CS):
        y = -(t + 3 - k) * math.pi / 4
        coeffs.append((cs_s * s0 + cs_c * c0) / (y * y))
    total = sum(coeffs)
    return [c / total for c in coeffs]


def lanczos4_weights(src_len, dst_len):
    """OpenCV INTER_LANCZOS4 weights (taps clamped to the edge) as a dense float64 matrix."""
    w = np.zeros((dst_len, src_len), dtype=np.float64)
    scale = src_len / dst_len
    for d in range(dst_len):
        f = (d + 0.5) * scale - 0.5
        s = math.floor(f)
        for k, c in enumerate(lanczos4_coefficients(f - s)):
            w[d, min(max(s - 3 + k, 0), src_len - 1)] += c
    return w


def facenox_crop(img_w, img_h, box):
    """Top-left corner and side of the 1.5x square crop: (x0, y0, size), Python int() truncation."""
    ix, iy, iw, ih = (int(v) for v in box)
    max_dim = max(iw, ih)
    cx, cy = ix + iw / 2, iy + ih / 2
    half = max_dim * FACENOX_EXPANSION / 2
    return int(cx - half), int(cy - half), int(max_dim * FACENOX_EXPANSION)


def facenox_input(rgb, box):
    """facenox MiniFASNetV2-SE input [1, 3, 128, 128] float32 and its crop (x0, y0, size)."""
    h, w, _ = rgb.shape
    x0, y0, size = facenox_crop(w, h, box)
    rows, cols = _reflect_indices(y0, size, h), _reflect_indices(x0, size, w)
    crop = rgb[rows][:, cols].astype(np.float64)
    ratio = FACENOX_SIDE / size
    scaled = int(size * ratio)
    weights = lanczos4_weights if ratio > 1 else area_weights
    wgt = weights(size, scaled)
    # Separable: columns first, then rows, in float64; then rounded half to even and clamped
    # to 0-255 once, as cv2's resize of the reference code's uint8 image ends.
    resized = np.einsum("sr,rdc->sdc", wgt, np.einsum("dw,rwc->rdc", wgt, crop))
    resized = np.clip(np.rint(resized), 0, 255)
    top = (FACENOX_SIDE - scaled) // 2
    pad = np.array([reflect101(i - top, scaled) for i in range(FACENOX_SIDE)], dtype=np.int64)
    square = resized[pad][:, pad] / 255.0
    tensor = np.ascontiguousarray(square.transpose(2, 0, 1)[None]).astype(np.float32)
    return tensor, (x0, y0, size)


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
        facenox = f"{models_dir}/face_antispoof_minifasnetv2se_128.onnx"
        self.facenox = ort.InferenceSession(facenox, opts, providers=prov) if os.path.exists(facenox) else None

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

    def facenox_logits(self, rgb, box):
        """facenox input tensor, logits [real, spoof] and crop (x0, y0, size); batch 1."""
        if self.facenox is None:
            raise RuntimeError("face_antispoof_minifasnetv2se_128.onnx is not in the models directory")
        tensor, crop = facenox_input(rgb, box)
        return tensor, self.facenox.run(None, {"input": tensor})[0][0], crop
