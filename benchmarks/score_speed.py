"""`artmatch score` itself, end to end, on a trained model and a pairs CSV of Kaggle's size; prints a Markdown table.

    python benchmarks/score_speed.py RUN IMAGES                    # 21,916,047 pairs over 1,000 images of IMAGES
    python benchmarks/score_speed.py RUN IMAGES --pairs 100000 --images 50

Writes a CSV in Kaggle's `submission_info.csv` layout (`index`, `image1`, `image2`) of `--pairs` random pairs of
`--images` images found below IMAGES, runs `artmatch score RUN pairs.csv --images IMAGES --out scores.csv` as a user
would (a process of its own: start-up, model loading, embedding every image once, scoring the pairs in chunks of a
million rows, writing `scores.csv` and `scores_submission.csv`), and times it. `embed_images` on the same images is
timed apart in this process, so the table also shows what the pairs cost beyond embedding.
"""
import argparse, os, platform, resource, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd, torch
from artmatch.data import image_files
from artmatch.export import load_model
from artmatch.scoring import embed_images

def pairs_csv(images:list, n_pairs:int, path:Path, seed:int=0) -> None:
    "`n_pairs` random pairs of distinct `images` (paths relative to their folder), in Kaggle's layout, written in chunks."
    rng = np.random.default_rng(seed)
    names = np.array(images)
    with path.open('w') as f:
        f.write('index,image1,image2\n')
        for start in range(0, n_pairs, 1_000_000):
            n = min(1_000_000, n_pairs - start)
            a = rng.integers(len(names), size=n)
            b = (a + rng.integers(1, len(names), size=n)) % len(names)
            pd.DataFrame({'index': np.arange(start, start + n), 'image1': names[a], 'image2': names[b]}).to_csv(f, header=False, index=False)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('run', type=Path, help="Model folder written by `artmatch train`.")
    p.add_argument('images', type=Path, help="Folder of images (searched recursively).")
    p.add_argument('--pairs', type=int, default=21_916_047, help="Pairs in the CSV (Kaggle's test set: 21,916,047).")
    p.add_argument('--images', dest='n_images', type=int, default=1_000, help="Images the pairs are drawn from.")
    p.add_argument('--tmp', type=Path, default=None, help="Folder for the CSVs (default: a new temporary folder).")
    a = p.parse_args()
    found = [q.relative_to(a.images).as_posix() for q in image_files(a.images)]
    chosen = [found[i] for i in np.random.default_rng(0).choice(len(found), min(a.n_images, len(found)), replace=False)]
    tmp = a.tmp or Path(tempfile.mkdtemp())
    tmp.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    pairs_csv(chosen, a.pairs, tmp/'pairs.csv')
    t_csv = time.perf_counter() - start
    model = load_model(a.run)
    start = time.perf_counter()
    embed_images(model, [a.images/q for q in chosen])
    t_embed = time.perf_counter() - start
    artmatch = str(Path(sys.executable).parent/'artmatch')
    start = time.perf_counter()
    subprocess.run([artmatch, 'score', str(a.run), str(tmp/'pairs.csv'), '--images', str(a.images), '--out', str(tmp/'scores.csv')], check=True)
    t_score = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    scored = sum(1 for _ in (tmp/'scores_submission.csv').open()) - 1
    rows = [('pairs scored (rows of scores_submission.csv)', f'{scored:,}'), ('images embedded', f'{len(chosen):,}'),
            ('`artmatch score`, end to end', f'{t_score:,.1f} s'), ('of which embedding the images (timed apart)', f'{t_embed:,.1f} s'),
            ('the rest: start-up, reading, scoring, writing', f'{t_score - t_embed:,.1f} s'),
            ('the rest per million pairs', f'{(t_score - t_embed) / a.pairs * 1e6:,.2f} s'),
            ('peak memory of `artmatch score`', f'{peak:.1f} GB'), ('writing the input CSV (not included)', f'{t_csv:,.1f} s')]
    model_cfg = model.config
    print(f"`artmatch score` on {a.run} ({model_cfg['approach']}, {model_cfg['arch']}, {model_cfg['size']} px); "
          f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads\n")
    print('| item | value |\n|---|---|\n' + '\n'.join(f'| {k} | {v} |' for k, v in rows))

if __name__ == '__main__': main()
