"""Explanations: do the maps point at the half of a composite work that matches, and what does one cost on 2 CPU cores?

    python benchmarks/explain.py                  # the ready model; composites of ../shared's works (else the sample's)
    python benchmarks/explain.py --composites 16  # fewer

Composites: the left half of a work by artist A beside the right half of a work by artist B (both resized to 224 x 224),
explained against another work by A and against another work by B. A map points the right way when its left half holds
most of its mass against A and little against B. Each row is a way of making the maps, on the same composites:
Grad-CAM (what artmatch uses: each channel's output weighted by its mean gradient, summed) and HiResCAM (the gradient at
each place times the output there, summed over channels), both at `explained_layers`, and their paired difference. Shares are given with 95 % bootstrap intervals over composites. The
artists are ones the ready model was trained on (the shared set's or the sample's); the composites are new works.

Cost: the median over pairs of the wall time of `predict_pair` (the answer alone), `explain_pair` (the answer and its
maps), `explanation_image` (drawing the picture) and `attribution_image` (one attributed work against its top artist's
nearest work, the ranking given), on this machine's cores (2 torch threads unless --threads).
"""
import argparse, os, platform, statistics, tempfile, time, warnings
from pathlib import Path
import numpy as np, pandas as pd, torch
import pytorch_grad_cam
from artmatch.core import quiet_progress_bars
from artmatch.data import sample_path
from artmatch.export import load_model
from artmatch.predict import predict_pair
from artmatch.attribute import attribute
from artmatch.index import build_index
import artmatch.explain as E
from artmatch.explain import composite_work

SHARED = Path(__file__).resolve().parents[2]/'shared'/'data'/'artworks'
MAPS = {'Grad-CAM (artmatch)': pytorch_grad_cam.GradCAM, 'HiResCAM': pytorch_grad_cam.HiResCAM}

def works_by_artist(root:Path) -> dict:
    labels = pd.read_csv(root/'labels.csv')
    return {a: [root/p for p in g.filename] for a, g in labels.groupby('artist', sort=True)}

def interval(x, rng, n=2000) -> tuple:
    means = [rng.choice(x, len(x)).mean() for _ in range(n)]
    return np.mean(x), np.percentile(means, 2.5), np.percentile(means, 97.5)

def composites_table(model, works:dict, n:int, folder:Path, seed:int) -> str:
    rng = np.random.default_rng(seed)
    artists = [a for a in works if len(works[a]) >= 4]
    cases = []
    for k in range(n):
        a, b = rng.choice(artists, 2, replace=False)
        wa, wb = rng.choice(len(works[a]), 2, replace=False), rng.choice(len(works[b]), 2, replace=False)
        composite_work(works[a][wa[0]], works[b][wb[0]]).save(folder/f'composite-{k}.png')
        cases.append((folder/f'composite-{k}.png', works[a][wa[1]], works[b][wb[1]]))
    rows = ["| maps | composites | left half's share against A | against B | share A > 60 % | share B < 40 % | A > B |",
            "|---|---|---|---|---|---|---|"]
    shares = {}
    for name, cam in MAPS.items():
        E.grad_cam = lambda cam=cam: cam            # the benchmark's comparison only: artmatch itself uses Grad-CAM
        shares[name] = s = np.array([[(m := E.explain_pair(model, work, other)['maps'][0])[:, :112].sum() / m.sum()
                                      for other in (same, different)] for work, same, different in cases])
        (ma, la, ha), (mb, lb, hb) = interval(s[:, 0], rng), interval(s[:, 1], rng)
        rows.append(f"| {name} | {n} | {ma:.3f} ({la:.3f}-{ha:.3f}) | {mb:.3f} ({lb:.3f}-{hb:.3f}) | "
                    f"{(s[:, 0] > 0.6).mean():.0%} | {(s[:, 1] < 0.4).mean():.0%} | {(s[:, 0] > s[:, 1]).mean():.0%} |")
    E.grad_cam = lambda: pytorch_grad_cam.GradCAM
    first, *others = MAPS
    for name in others:      # the same composites: a paired difference
        d = shares[first] - shares[name]
        (ma, la, ha), (mb, lb, hb) = interval(d[:, 0], rng), interval(d[:, 1], rng)
        rows.append(f"| {first} minus {name}, composite by composite | {n} | {ma:+.3f} ({la:+.3f} to {ha:+.3f}) | "
                    f"{mb:+.3f} ({lb:+.3f} to {hb:+.3f}) | | | |")
    return '\n'.join(rows)

def timed(f, repeats:int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times)

def cost_table(model, works:dict, folder:Path, repeats:int) -> str:
    artists = list(works)[:4]
    pairs = [(works[artists[k % 4]][k], works[artists[(k + 1) % 4]][k + 1]) for k in range(repeats)]
    it = iter(pairs * 3)
    t_predict = timed(lambda: predict_pair(model, *next(it)), repeats)
    t_explain = timed(lambda: E.explain_pair(model, *next(it)), repeats)
    explanation = E.explain_pair(model, *pairs[0])
    t_picture = timed(lambda: E.explanation_image(explanation), repeats)
    collection = pd.DataFrame({'image': [str(p) for a in artists for p in works[a][-10:]], 'artist': np.repeat(artists, 10)})
    collection.to_csv(folder/'collection.csv', index=False)
    build_index(model=model, collection=folder/'collection.csv', out=folder/'index')
    ranking = attribute(model, folder/'index', [p for p, _ in pairs])
    groups = [rows for _, rows in ranking.groupby('image', sort=False)]
    g = iter(groups * 2)
    t_attribution = timed(lambda: E.attribution_image(model, next(g), ranking.attrs['threshold']), len(groups))
    return '\n'.join([
        "| step (one pair, ready model, EfficientNet-Lite2 at 224 px) | median s |", "|---|---|",
        f"| `predict_pair`: the answer alone | {t_predict:.2f} |",
        f"| `explain_pair`: the answer and both maps | {t_explain:.2f} |",
        f"| `explanation_image`: drawing the picture | {t_picture:.3f} |",
        f"| `attribution_image`: an attributed work against its top artist's nearest work | {t_attribution:.2f} |"])

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--composites', type=int, default=40, help="Composite works to explain (each against A and B).")
    p.add_argument('--repeats', type=int, default=10, help="Pairs timed per step.")
    p.add_argument('--threads', type=int, default=2, help="torch threads (this machine: 2 cores).")
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    warnings.filterwarnings('ignore')
    model = load_model()
    works = works_by_artist(SHARED if (SHARED/'labels.csv').exists() else sample_path())
    folder = Path(tempfile.mkdtemp())
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {a.threads} torch threads; "
          f"{len(works)} artists ({'../shared' if (SHARED/'labels.csv').exists() else 'the bundled sample'})\n")
    with quiet_progress_bars():
        print(composites_table(model, works, a.composites, folder, a.seed), '\n')
        print(cost_table(model, works, folder, a.repeats))

if __name__ == '__main__': main()
