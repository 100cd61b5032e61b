"""artmatch at scale on this machine: a synthetic collection of up to 100,000 works, prepared, indexed, searched and scored.

    python benchmarks/scale.py                      # every stage, into /tmp/scale (resumes: finished rows are kept)
    python benchmarks/scale.py --stages textures,prepare --works 20000
    python benchmarks/scale.py --quick              # a tiny run that checks the script (a test runs it)

Stages, each a row or rows of the table (OUT/scale.md), each kept in OUT/results.json once done:

- textures: N synthetic 256-pixel JPEG textures (oriented gratings in an artist's palette and scale of marks, with
  noise), deterministic from their number, 50 works per artist, with `labels.csv`; made by a process per core;
- prepare: `artmatch prepare` on them, in a process of its own: images per second and that process's peak memory;
- index: `artmatch index` on the first 10,000, 50,000 and 100,000 prepared works, each in a process of its own, with a
  small body (ImageNet SqueezeNet at 64 px) so that the rows show how time and memory grow; one row of the real body,
  EfficientNet-Lite2 at 224 px, on the first `--lite2-works` works gives its rate per 10,000 works;
- search: `nearest_works` and `rank_artists` for one query against 100,000 and 1,000,000 indexed vectors (synthetic
  unit vectors of Lite2's width, 50 works per artist), exact and, for the million, approximate (IVF) search;
- score: `artmatch score` on Kaggle's 21,916,047 pairs (`score_speed.py`) over 1,000 textures, with the small body.
"""
import argparse, json, os, platform, subprocess, sys, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
import numpy as np, pandas as pd
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent/'shared'
WORKS_PER_ARTIST = 50
SIZE = 256

def texture(i:int) -> Image.Image:
    """Work number `i`: four oriented gratings in its artist's palette and scale of marks, at random angles,
    frequencies and phases drawn from `i`, with noise; deterministic."""
    artist = i // WORKS_PER_ARTIST
    by_artist, by_work = np.random.default_rng([artist, 0]), np.random.default_rng([i, 1])
    palette = by_artist.uniform(0, 255, (3, 3)).astype(np.float32)
    scale = by_artist.uniform(2, 12)
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    img, weight = np.zeros((SIZE, SIZE, 3), np.float32), np.zeros((SIZE, SIZE), np.float32)
    for k in range(4):
        theta, f, phase = by_work.uniform(0, np.pi), scale * by_work.uniform(0.5, 2), by_work.uniform(0, 2 * np.pi)
        wave = 0.5 + 0.5 * np.sin(2 * np.pi * f * (x * np.cos(theta) + y * np.sin(theta)) + phase)
        img += wave[..., None] * palette[k % 3]
        weight += wave
    img = img / np.maximum(weight, 1e-3)[..., None] + by_work.normal(0, 12, (SIZE, SIZE, 3)).astype(np.float32)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))

def texture_name(i:int) -> str: return f"a{i // WORKS_PER_ARTIST:05d}/w{i:06d}.jpg"

def _write_textures(folder:str, numbers:range) -> int:
    for i in numbers:
        path = Path(folder)/texture_name(i)
        if path.exists(): continue
        path.parent.mkdir(parents=True, exist_ok=True)
        texture(i).save(path.with_suffix('.part.jpg'), quality=90)
        os.replace(path.with_suffix('.part.jpg'), path)
    return len(numbers)

def make_textures(out:Path, n:int) -> dict:
    "`n` textures in `out/images` and `out/labels.csv`; those already there kept."
    start = time.perf_counter()
    steps = [range(s, min(s + 1000, n)) for s in range(0, n, 1000)]
    with ProcessPoolExecutor(os.cpu_count()) as pool: list(pool.map(_write_textures, [str(out/'images')] * len(steps), steps))
    pd.DataFrame({"filename": ["images/" + texture_name(i) for i in range(n)],
                  'artist': [f"artist {i // WORKS_PER_ARTIST:05d}" for i in range(n)]}).to_csv(out/'labels.csv', index=False)
    return dict(works=n, seconds=time.perf_counter() - start)

if __name__ == '__main__' and sys.argv[1:2] == ['--textures-only']:
    print(make_textures(Path(sys.argv[2]), int(sys.argv[3])))
