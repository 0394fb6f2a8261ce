#!/usr/bin/env python3
"""Assembles the development set of models/devset.toml into DIR/bona_fide/ and DIR/attack/<type>/.

Each image comes, in order, from: a verified copy already in DIR (nothing to do); a local
mirror of its repository (a git directory under $LIVENESS_DEVSET_MIRROR, ':'-separated,
default /work/.mirror, laid out as <owner>+<name>/repo), read at the pinned commit; or
https://raw.githubusercontent.com/<repo>/<commit>/<path>. A file whose sha256 does not match
the manifest is a hard error that names it. Files in DIR that the manifest does not name are
reported (and removed with --prune), so the folders hold exactly the set.

Usage: devset.py [--dir DIR] [--manifest FILE] [--prune]
"""
import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import tomllib
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
MANIFEST = ROOT / "models" / "devset.toml"
RAW = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"


def default_dir():
    home = os.environ.get("LIVENESS_HOME") or Path.home() / ".local" / "share" / "liveness"
    return Path(home) / "devset"


def load(manifest=MANIFEST):
    """The manifest's sources (by repo) and images, each image with its place in the tree."""
    data = tomllib.loads(Path(manifest).read_text())
    sources = {s["repo"]: s for s in data["source"]}
    images = []
    for image in data["image"]:
        source = sources[image["repo"]]
        name = f"{source['id']}-{image['path'].replace('/', '_')}"
        if image["label"] == "bona_fide":
            folder = Path("bona_fide")
        elif image["label"] == "attack":
            folder = Path("attack") / image["attack_type"]
        else:
            raise SystemExit(f"devset: {image['path']}: label must be bona_fide or attack")
        images.append(
            {**image, "source": source["id"], "framing": source["framing"], "name": name, "relpath": folder / name}
        )
    names = [i["relpath"] for i in images]
    if len(set(names)) != len(names):
        raise SystemExit("devset: two manifest entries map to the same file name")
    return sources, images


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def git_dirs(repo):
    for mirror in filter(None, os.environ.get("LIVENESS_DEVSET_MIRROR", "/work/.mirror").split(":")):
        base = Path(mirror) / repo.replace("/", "+") / "repo"
        for candidate in (base / ".git", base):
            if (candidate / "objects").is_dir():
                yield candidate


def from_mirror(image):
    for gd in git_dirs(image["repo"]):
        spec = f"{image['commit']}:{image['path']}"
        run = subprocess.run(["git", "--git-dir", str(gd), "show", spec], capture_output=True)
        if run.returncode == 0:
            return run.stdout, f"mirror {gd}"
    return None, None


def from_url(image):
    url = RAW.format(**image)
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read(), url


def fetch(image, target):
    if target.is_file() and sha256(target.read_bytes()) == image["sha256"]:
        return "present"
    data, origin = from_mirror(image)
    if data is None:
        try:
            data, origin = from_url(image)
        except OSError as e:
            raise SystemExit(f"devset: cannot get {image['repo']}:{image['path']}: {e}")
    digest = sha256(data)
    if digest != image["sha256"]:
        raise SystemExit(
            f"devset: {image['repo']}@{image['commit'][:12]}:{image['path']} from {origin} does not match "
            f"the manifest: sha256 {digest}, expected {image['sha256']}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        tmp.write(data)
    Path(tmp.name).replace(target)
    return origin


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=default_dir(), help="output folder (default $LIVENESS_HOME/devset)")
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--prune", action="store_true", help="delete files in DIR the manifest does not name")
    args = parser.parse_args()

    _, images = load(args.manifest)
    counts = {}
    origins = {"present": 0, "mirror": 0, "download": 0}
    for image in images:
        origin = fetch(image, args.dir / image["relpath"])
        origins["present" if origin == "present" else "mirror" if origin.startswith("mirror") else "download"] += 1
        key = str(image["relpath"].parent)
        counts[key] = counts.get(key, 0) + 1

    wanted = {args.dir / i["relpath"] for i in images}
    extra = [p for top in ("bona_fide", "attack") for p in (args.dir / top).rglob("*") if p.is_file() and p not in wanted]
    for path in extra:
        if args.prune:
            path.unlink()
        else:
            print(f"devset: not in the manifest (use --prune to delete): {path}", file=sys.stderr)

    for key in sorted(counts):
        print(f"{key:<20} {counts[key]:>4}", file=sys.stderr)
    print(
        f"devset: {len(images)} images in {args.dir} ({origins['present']} present, {origins['mirror']} from mirrors, "
        f"{origins['download']} downloaded)",
        file=sys.stderr,
    )
    attacks = sorted({i["attack_type"] for i in images if i["label"] == "attack"})
    flags = " ".join(f"--attack {t}={args.dir / 'attack' / t}" for t in attacks)
    print(f"liveness evaluate --bona-fide {args.dir / 'bona_fide'} {flags}")


if __name__ == "__main__":
    main()
