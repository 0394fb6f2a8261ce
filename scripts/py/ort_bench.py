"""onnxruntime baseline for the engine benchmark: the same models, preprocessing and images.

Prints one JSON object: median inference time (ms) of each model alone, per-image median stage
times with one intra-op thread, and the throughput of a pool of THREADS workers each running
whole images (as the Rust pool does).
Usage: MODELS_DIR ITERATIONS THREADS IMAGE...
"""
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import ortref


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, (time.perf_counter() - start) * 1e3


def analyze(engine, path, times=None):
    start = time.perf_counter()
    rgb, t_decode = timed(ortref.load_rgb, path)
    (_, faces), t_detect = timed(engine.detect, rgb)
    t_crop = t_v2 = t_v1se = 0.0
    if faces:
        box = faces[0][1]
        t0 = time.perf_counter()
        x2, _ = ortref.pad_input(rgb, box, 2.7)
        x4, _ = ortref.pad_input(rgb, box, 4.0)
        t_crop = (time.perf_counter() - t0) * 1e3
        _, t_v2 = timed(engine.v2.run, None, {"input": x2})
        _, t_v1se = timed(engine.v1se.run, None, {"input": x4})
    total = (time.perf_counter() - start) * 1e3
    if times is not None:
        for key, value in zip(
            ("decode", "detect", "crop", "minifasnet_v2", "minifasnet_v1se", "total"),
            (t_decode, t_detect, t_crop, t_v2, t_v1se, total),
        ):
            times.setdefault(key, []).append(value)


def model_times(engine, path, iterations):
    rgb = ortref.load_rgb(path)
    det_input, faces = engine.detect(rgb)
    x2, _ = ortref.pad_input(rgb, faces[0][1], 2.7)
    x4, _ = ortref.pad_input(rgb, faces[0][1], 4.0)
    result = {}
    for name, session, tensor in (
        ("yunet", engine.det, det_input),
        ("minifasnet_v2", engine.v2, x2),
        ("minifasnet_v1se", engine.v1se, x4),
    ):
        session.run(None, {"input": tensor})
        result[name] = statistics.median(
            timed(session.run, None, {"input": tensor})[1] for _ in range(iterations)
        )
    return result


def main(models_dir, iterations, threads, *images):
    iterations, threads = int(iterations), int(threads)
    engine = ortref.Engine(models_dir, 256, threads=1)
    models = model_times(engine, images[0], iterations * 3)
    per_image = {}
    for path in images:
        analyze(engine, path)  # warm-up
        times = {}
        for _ in range(iterations):
            analyze(engine, path, times)
        per_image[path] = {k: statistics.median(v) for k, v in times.items()}

    engines = [ortref.Engine(models_dir, 256, threads=1) for _ in range(threads)]
    work = [images[i % len(images)] for i in range(iterations * len(images))]
    with ThreadPoolExecutor(threads) as pool:
        start = time.perf_counter()
        list(pool.map(lambda i: analyze(engines[i % threads], work[i]), range(len(work))))
        elapsed = time.perf_counter() - start
    print(json.dumps({"models": models, "per_image": per_image, "pool_images_per_s": len(work) / elapsed, "threads": threads}))


if __name__ == "__main__":
    main(*sys.argv[1:])
