#!/usr/bin/env python3
"""Chooses the opt-in model set's fusion weights and threshold on the development set.

For each image of models/devset.toml (assembled by scripts/devset): YuNet at input side 256,
score threshold 0.6; the subject is the largest face (as the engine's primary_face), images
without one are reported and left out of the PAD figures. Scores, all P(real):
  v2      MiniFASNetV2, crop 2.7, softmax[1]       v1se  MiniFASNetV1SE, crop 4.0, softmax[1]
  pair    (v2 + v1se) / 2 (the default set)        facenox  softmax([real, spoof])[0]
  fused   w_pair * pair + w_f * facenox, w_pair = 1 - w_f (weights [w_pair/2, w_pair/2, w_f])
A presentation is accepted as bona fide when its score >= the threshold. APCER is per attack
type; "all" pools the attacks; EER uses the pooled APCER; ACER = (max APCER + BPCER) / 2.
w_f runs 0, 0.05 .. 1 and the one with the lowest EER wins (ties: the smaller w_f); the set's
threshold is that fusion's EER threshold rounded to 2 decimals. Bootstrap intervals (1,000
resamples, fixed seed) resample images within each class, and, separately, whole groups
(a NUAA subject, a home-made set's person, otherwise one image), since frames of one person
are not independent; and it shows how often each w_f would win on the resampled set.

The choice uses the full-frame sources only (--framing all to use every image): the
face-crop sources give facenox a reflect-padded crop the engine never produces from a camera
frame (see models/devset.toml). The face-crop and all-image figures are reported beside it.

Usage: choose_fusion.py [--devset DIR] [--models DIR] [--framing full_frame|all]
                        [--json FILE] [--scores FILE]
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # single-threaded numpy/BLAS, like the one inference thread

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import devset  # noqa: E402
import ortref  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent.parent
DETECTOR_SIDE = 256
DETECTOR_THRESHOLD = 0.6
STEP = 0.05
RESAMPLES = 1000
SEED = 20240607
SYSTEMS = ("v2", "v1se", "pair", "facenox")
META = ("name", "label", "attack_type", "source", "framing", "group", "sha256")
GRID = [round(i * STEP, 2) for i in range(int(round(1 / STEP)) + 1)]


# ---------------------------------------------------------------- scoring


def softmax(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max())
    return e / e.sum()


def primary(faces):
    """The largest face (ties: the more confident), as the engine picks the subject."""
    return max(faces, key=lambda f: (f[1][2] * f[1][3], f[0])) if faces else None


def score_image(engine, path):
    rgb = ortref.load_rgb(path)
    _, faces = engine.detect(rgb, score_threshold=DETECTOR_THRESHOLD)
    face = primary(faces)
    row = {"width": int(rgb.shape[1]), "height": int(rgb.shape[0]), "faces": len(faces)}
    if face is None:
        return row
    _, _, l2, l4, _ = engine.liveness(rgb, face[1])
    _, lf, _ = engine.facenox_logits(rgb, face[1])
    p2, p4 = float(softmax(l2)[1]), float(softmax(l4)[1])
    row.update(
        detector_score=float(face[0]),
        box=[round(float(v), 2) for v in face[1]],
        v2=p2,
        v1se=p4,
        pair=(p2 + p4) / 2,
        facenox=float(softmax(lf)[0]),
    )
    return row


def group_of(image):
    """Resampling unit: frames of one person in one source belong together."""
    if image["source"] == "nuaa":
        return f"nuaa/{image['path'].split('/')[2]}"  # db/<Class>/<subject>/...
    if image["source"].startswith("pyi-"):
        return image["source"]
    return f"{image['source']}/{image['path']}"


def score_all(images, devset_dir, models_dir, cache):
    cached = {}
    if cache and cache.is_file():
        cached = {r["sha256"]: r for r in json.loads(cache.read_text()).get("samples", [])}
    engine = None
    rows = []
    for n, image in enumerate(images, 1):
        path = devset_dir / image["relpath"]
        if not path.is_file():
            raise SystemExit(f"choose_fusion: {path} is missing; run scripts/devset first")
        if hashlib.sha256(path.read_bytes()).hexdigest() != image["sha256"]:
            raise SystemExit(f"choose_fusion: {path} does not match models/devset.toml; run scripts/devset")
        if image["sha256"] in cached:
            scores = {k: v for k, v in cached[image["sha256"]].items() if k not in META}
        else:
            if engine is None:
                engine = ortref.Engine(str(models_dir), DETECTOR_SIDE, threads=1)
            scores = score_image(engine, path)
        rows.append(
            {
                "name": image["name"],
                "label": image["label"],
                "attack_type": image.get("attack_type"),
                "source": image["source"],
                "framing": image["framing"],
                "group": group_of(image),
                "sha256": image["sha256"],
                **scores,
            }
        )
        if engine is not None and n % 25 == 0:
            print(f"choose_fusion: scored {n}/{len(images)}", file=sys.stderr)
    return rows


# ---------------------------------------------------------------- metrics


def auc(bona, attack):
    """P(bona fide score > attack score), ties counting one half (Mann-Whitney)."""
    bona, attack = np.asarray(bona), np.asarray(attack)
    scores = np.concatenate([bona, attack])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # average ranks over ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n_b, n_a = len(bona), len(attack)
    return float((ranks[:n_b].sum() - n_b * (n_b + 1) / 2) / (n_b * n_a))


def rates(bona, attacks, threshold):
    """BPCER, APCER per type, pooled and max, ACER, at one threshold (accept: score >= t)."""
    bpcer = float(np.mean(np.asarray(bona) < threshold))
    apcer = {t: float(np.mean(np.asarray(s) >= threshold)) for t, s in sorted(attacks.items())}
    pooled = np.concatenate([np.asarray(s) for s in attacks.values()])
    apcer_max = max(apcer.values())
    return {
        "threshold": threshold,
        "bpcer": bpcer,
        "apcer": apcer,
        "apcer_all": float(np.mean(pooled >= threshold)),
        "apcer_max": apcer_max,
        "acer": (apcer_max + bpcer) / 2,
    }


def eer(bona, attack):
    """EER with pooled APCER: the threshold where |APCER - BPCER| is smallest (ties: the
    lowest mean, then the lowest threshold), placed halfway into the gap below that score,
    since every threshold in the gap gives the same rates. Returns (eer, threshold)."""
    bona, attack = np.sort(np.asarray(bona)), np.sort(np.asarray(attack))
    cands = np.unique(np.concatenate([bona, attack, [np.nextafter(max(bona[-1], attack[-1]), np.inf)]]))
    bpcer = np.searchsorted(bona, cands, side="left") / len(bona)  # bona fide below t: rejected
    apcer = 1 - np.searchsorted(attack, cands, side="left") / len(attack)  # attacks at or above t
    gap, mean = np.abs(apcer - bpcer), (apcer + bpcer) / 2
    best = np.lexsort((cands, mean, gap))[0]
    below = cands[best - 1] if best > 0 else cands[best]
    return float(mean[best]), float((below + cands[best]) / 2)


def split(rows, key):
    ok = [r for r in rows if key in r]
    bona = np.array([r[key] for r in ok if r["label"] == "bona_fide"])
    attacks = {}
    for r in ok:
        if r["label"] == "attack":
            attacks.setdefault(r["attack_type"], []).append(r[key])
    return bona, {t: np.array(v) for t, v in attacks.items()}


def summary(rows, key, threshold):
    bona, attacks = split(rows, key)
    pooled = np.concatenate(list(attacks.values()))
    e, t_eer = eer(bona, pooled)
    return {"auc": auc(bona, pooled), "eer": e, "eer_threshold": t_eer, "at": rates(bona, attacks, threshold)}


def with_fusion(rows, w_f):
    out = []
    for r in rows:
        r = dict(r)
        if "pair" in r:
            r["fused"] = (1 - w_f) * r["pair"] + w_f * r["facenox"]
        out.append(r)
    return out


def bootstrap(rows, keys, by_group, rng):
    """90 % percentile intervals of the EER of each key, and of key[0]'s EER minus key[1]'s."""
    ok = [r for r in rows if all(k in r for k in keys)]
    classes = {}
    for r in ok:
        unit = r["group"] if by_group else r["name"]
        classes.setdefault(r["label"] == "bona_fide", {}).setdefault(unit, []).append(r)
    units = {c: list(g.values()) for c, g in classes.items()}
    draws = {k: [] for k in keys}
    diffs = []
    wins = dict.fromkeys(GRID, 0)
    for _ in range(RESAMPLES):
        sample = {}
        for c, us in units.items():
            picks = rng.integers(0, len(us), len(us))
            sample[c] = [r for i in picks for r in us[i]]
        values = []
        for k in keys:
            e, _ = eer([r[k] for r in sample[True]], [r[k] for r in sample[False]])
            draws[k].append(e)
            values.append(e)
        diffs.append(values[0] - values[1])
        pb = np.array([[r["pair"], r["facenox"]] for r in sample[True]])
        pa = np.array([[r["pair"], r["facenox"]] for r in sample[False]])
        grid = [{"w_f": w, "eer": eer(pb @ [1 - w, w], pa @ [1 - w, w])[0]} for w in GRID]
        wins[pick(grid)["w_f"]] += 1
    pct = lambda xs: [float(np.percentile(xs, 5)), float(np.percentile(xs, 95))]  # noqa: E731
    result = {k: pct(v) for k, v in draws.items()}
    result[f"{keys[0]}_minus_{keys[1]}"] = pct(diffs)
    result["units"] = {("bona_fide" if c else "attack"): len(us) for c, us in units.items()}
    result["chosen_w_f"] = {f"{w:.2f}": n / RESAMPLES for w, n in wins.items() if n}
    return result


# ---------------------------------------------------------------- report


def pick(grid):
    """Lowest EER, ties: the smaller w_f."""
    return min(grid, key=lambda g: (round(g["eer"], 12), g["w_f"]))


def choose(rows):
    grid = []
    for w_f in GRID:
        bona, attacks = split(with_fusion(rows, w_f), "fused")
        pooled = np.concatenate(list(attacks.values()))
        e, t = eer(bona, pooled)
        grid.append({"w_f": w_f, "eer": e, "eer_threshold": t, "auc": auc(bona, pooled)})
    return grid, pick(grid)


def counts(rows):
    out = {"images": len(rows), "scored": {}, "no_face": {}}
    for r in rows:
        key = "bona_fide" if r["label"] == "bona_fide" else f"attack/{r['attack_type']}"
        bucket = out["scored"] if "pair" in r else out["no_face"]
        bucket[key] = bucket.get(key, 0) + 1
    out["groups"] = len({r["group"] for r in rows if "pair" in r})
    return out


def per_source(rows, key, threshold):
    out = {}
    for r in rows:
        if key not in r:
            continue
        s = out.setdefault(r["source"], {"label": set(), "framing": r["framing"], "n": 0, "errors": 0, "mean": 0.0})
        s["label"].add(r["label"])
        s["n"] += 1
        s["mean"] += r[key]
        accepted = r[key] >= threshold
        s["errors"] += int(accepted != (r["label"] == "bona_fide"))
    for s in out.values():
        s["mean"] /= s["n"]
        s["label"] = "/".join(sorted(s["label"]))
    return out


def pct(x):
    return "  n/a " if x is None else f"{100 * x:5.1f}%"


def render(report):
    lines = []
    c = report["counts"]
    lines.append(f"Chosen on: {report['chosen_on']} images: {c['images']}; scored (face found) by class: {c['scored']}")
    lines.append(f"  no face found (left out of the PAD figures): {c['no_face'] or 'none'}")
    for name in report["no_face"]:
        lines.append(f"    - {name}")
    lines.append(f"  independent groups among the scored images: {c['groups']}")
    lines.append("")
    lines.append("Per model, at threshold 0.5 (accept score >= 0.5):")
    lines.append(f"  {'model':<8} {'AUC':>6} {'EER':>7} {'EER thr':>8} {'BPCER':>7} {'APCER':>7}  APCER per type")
    for key in SYSTEMS:
        m = report["models"][key]
        per = ", ".join(f"{t} {pct(v).strip()}" for t, v in m["at"]["apcer"].items())
        lines.append(
            f"  {key:<8} {m['auc']:6.3f} {pct(m['eer'])} {m['eer_threshold']:8.3f} {pct(m['at']['bpcer'])} "
            f"{pct(m['at']['apcer_all'])}  {per}"
        )
    lines.append("")
    lines.append("Fusion grid: fused = (1 - w_f) * pair + w_f * facenox")
    lines.append(f"  {'w_f':>5} {'EER':>7} {'EER thr':>8} {'AUC':>6}")
    for g in report["grid"]:
        mark = "  <- chosen" if g["w_f"] == report["chosen"]["w_f"] else ""
        lines.append(f"  {g['w_f']:5.2f} {pct(g['eer'])} {g['eer_threshold']:8.3f} {g['auc']:6.3f}{mark}")
    ch = report["chosen"]
    lines.append("")
    lines.append(
        f"Chosen: w_f = {ch['w_f']:.2f}, weights [v2, v1se, facenox] = {ch['weights']}, "
        f"EER {pct(ch['eer']).strip()} at {ch['eer_threshold']:.4f} -> threshold {ch['threshold']:.2f}"
    )
    lines.append("")
    a, b = report["side_by_side"]["opt_in"], report["side_by_side"]["default_pair"]
    lines.append(f"Side by side:      {'opt-in set':>14} {'default pair':>14}")
    lines.append(f"  threshold       {a['threshold']:>14.2f} {b['threshold']:>14.2f}")
    for t in a["apcer"]:
        lines.append(f"  APCER {t:<10}{pct(a['apcer'][t]):>14} {pct(b['apcer'][t]):>14}")
    for k, label in (("apcer_all", "APCER pooled"), ("apcer_max", "APCER max"), ("bpcer", "BPCER"), ("acer", "ACER")):
        lines.append(f"  {label:<16}{pct(a[k]):>14} {pct(b[k]):>14}")
    lines.append("")
    lines.append(f"Bootstrap 90 % intervals of the EER ({RESAMPLES} resamples, seed {SEED}):")
    for kind, label in (("images", "images within class"), ("groups", "groups within class")):
        bs = report["bootstrap"][kind]
        lines.append(
            f"  by {label} (units {bs['units']}): opt-in [{pct(bs['fused'][0]).strip()}, {pct(bs['fused'][1]).strip()}], "
            f"pair [{pct(bs['pair'][0]).strip()}, {pct(bs['pair'][1]).strip()}], "
            f"opt-in minus pair [{100 * bs['fused_minus_pair'][0]:+.1f}, {100 * bs['fused_minus_pair'][1]:+.1f}] points"
        )
    for kind in ("images", "groups"):
        wins = report["bootstrap"][kind]["chosen_w_f"]
        top = sorted(wins.items(), key=lambda kv: -kv[1])[:6]
        lines.append(f"  w_f chosen on the resamples by {kind}: " + ", ".join(f"{w} {100 * f:.0f}%" for w, f in top))
    for name, sens in report["sensitivity"].items():
        lines.append("")
        c = sens["counts"]
        lines.append(f"Sensitivity: {name} images ({c['scored']}), not used for the choice:")
        lines.append("  " + ", ".join(f"{k} AUC {m['auc']:.3f} EER {pct(m['eer']).strip()}" for k, m in sens["models"].items()))
        own = sens["own_choice"]
        lines.append(
            f"  chosen on these instead: w_f {own['w_f']:.2f}, EER {pct(own['eer']).strip()}, threshold {own['threshold']:.2f}"
        )
        at, dp = sens["chosen_set"]["at"], sens["default_pair_at_0.5"]
        lines.append(
            f"  chosen set here: EER {pct(sens['chosen_set']['eer']).strip()}; at {at['threshold']:.2f}: BPCER {pct(at['bpcer']).strip()}, "
            f"APCER " + ", ".join(f"{t} {pct(v).strip()}" for t, v in at["apcer"].items())
            + f"; default pair at 0.50: BPCER {pct(dp['bpcer']).strip()}, APCER "
            + ", ".join(f"{t} {pct(v).strip()}" for t, v in dp["apcer"].items())
        )
    lines.append("")
    lines.append("Per source, all scored images (errors at the set's threshold: opt-in | default pair at 0.5; mean score):")
    ps_a, ps_b = report["per_source"]["opt_in"], report["per_source"]["default_pair"]
    for src in sorted(ps_a):
        x, y = ps_a[src], ps_b[src]
        lines.append(
            f"  {src:<14} {x['framing']:<10} {x['label']:<18} n={x['n']:>3}  errors {x['errors']:>3} | {y['errors']:>3}   "
            f"mean {x['mean']:.3f} | {y['mean']:.3f}"
        )
    return "\n".join(lines)


def sensitivity(rows, w_f, threshold):
    """Per-model figures, the grid's own choice, and the chosen set's rates on a subset."""
    bona, attacks = split(with_fusion(rows, w_f), "fused")
    pooled = np.concatenate(list(attacks.values()))
    _, best = choose(rows)
    return {
        "counts": counts(rows),
        "models": {k: {"auc": (m := summary(rows, k, 0.5))["auc"], "eer": m["eer"]} for k in SYSTEMS},
        "own_choice": {"w_f": best["w_f"], "eer": best["eer"], "threshold": round(best["eer_threshold"], 2)},
        "chosen_set": {"eer": eer(bona, pooled)[0], "at": rates(bona, attacks, threshold)},
        "default_pair_at_0.5": rates(*split(rows, "pair"), 0.5),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devset", type=Path, default=devset.default_dir(), help="scripts/devset's folder")
    parser.add_argument("--manifest", type=Path, default=devset.MANIFEST)
    parser.add_argument("--models", type=Path, default=ROOT / "models" / "assets")
    parser.add_argument("--framing", choices=("full_frame", "all"), default="full_frame", help="images to choose on")
    parser.add_argument("--json", type=Path, help="write the full report (and per-image scores) here; '-' for stdout")
    parser.add_argument("--scores", type=Path, help="cache of per-image scores: reused when present, written after")
    args = parser.parse_args()

    _, images = devset.load(args.manifest)
    rows = score_all(images, args.devset, args.models, args.scores)
    if args.scores:
        args.scores.write_text(json.dumps({"samples": rows}, indent=1) + "\n")
    chosen_on = [r for r in rows if args.framing == "all" or r["framing"] == args.framing]
    scored = [r for r in chosen_on if "pair" in r]

    grid, best = choose(scored)
    w_f = best["w_f"]
    threshold = round(best["eer_threshold"], 2)
    fused_rows = with_fusion(scored, w_f)
    bona, attacks = split(fused_rows, "fused")
    pair_bona, pair_attacks = split(scored, "pair")
    rng = np.random.default_rng(SEED)
    others = {
        "face_crop": [r for r in rows if "pair" in r and r["framing"] == "face_crop"],
        "all": [r for r in rows if "pair" in r],
    }
    report = {
        "generator": f"scripts/py/choose_fusion.py (onnxruntime {ortref.ort.__version__})",
        "detector": {"input_side": DETECTOR_SIDE, "score_threshold": DETECTOR_THRESHOLD, "subject": "largest face"},
        "chosen_on": args.framing,
        "counts": counts(chosen_on),
        "no_face": [r["name"] for r in rows if "pair" not in r],
        "models": {k: summary(scored, k, 0.5) for k in SYSTEMS},
        "grid": grid,
        "chosen": {
            "w_f": w_f,
            "w_pair": round(1 - w_f, 2),
            "weights": [round((1 - w_f) / 2, 3), round((1 - w_f) / 2, 3), w_f],
            "eer": best["eer"],
            "eer_threshold": best["eer_threshold"],
            "threshold": threshold,
            "auc": best["auc"],
        },
        "side_by_side": {
            "opt_in": rates(bona, attacks, threshold),
            "default_pair": rates(pair_bona, pair_attacks, 0.5),
        },
        "bootstrap": {
            "images": bootstrap(fused_rows, ("fused", "pair"), False, rng),
            "groups": bootstrap(fused_rows, ("fused", "pair"), True, rng),
        },
        "per_source": {
            "opt_in": per_source(with_fusion([r for r in rows if "pair" in r], w_f), "fused", threshold),
            "default_pair": per_source([r for r in rows if "pair" in r], "pair", 0.5),
        },
        "sensitivity": {k: sensitivity(v, w_f, threshold) for k, v in others.items() if v and args.framing != k},
        "samples": rows,
    }
    text = render(report)
    print(text, file=sys.stderr if args.json and str(args.json) == "-" else sys.stdout)
    if args.json:
        payload = json.dumps(report, indent=1) + "\n"
        if str(args.json) == "-":
            sys.stdout.write(payload)
        else:
            args.json.write_text(payload)


if __name__ == "__main__":
    main()
