"""Label-free post-processing of a trained embedding, on the artist folds of `unseen.py`: does it help on artists never seen?

    python benchmarks/unseen.py                   # first: trains the default embedding on each of the 5 folds
    python benchmarks/unseen_postprocess.py       # then: re-scores each fold's test pairs, post-processed

Issue 17's option (d). Each fold's model (OUT/run-embedding-F) embeds every work of the shared set from the feature
cache (the frozen body's features, computed once by `unseen.py`; the head runs here). The variants, each fitted on the
fold's training works only, so that a pair's score never depends on which other works are scored with it:

- `as trained`: the model's own unit vectors and cosine (its fold AUC, as `unseen.py` reports it);
- `centred`: the training works' mean vector subtracted, then unit length again;
- `whitened (shrink s)`: PCA whitening fitted on the training works, each eigenvalue raised by s x their mean before
  its inverse square root (s = 0 is plain whitening), then unit length;
- `CSLS (k)`: 2 cos(x, y) - r(x) - r(y), r(x) the mean cosine of x to its k nearest training works (hubness correction);
- `metric half` and `artist half`: the two halves of the vector, each alone.

The shrinkage and k are chosen on the fold's validation artists (best mean validation AUC over folds); test folds are
reported: the mean over folds with a 95 % t-interval, and the per-artist difference from `as trained` with a bootstrap
95 % interval over artists. Writes OUT/postprocess.md.
"""
import argparse, json, sys
from pathlib import Path
import numpy as np, pandas as pd, torch, torch.nn.functional as F
import sklearn.metrics as skm
ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from unseen import per_artist_auc, t_interval, paired_difference
from auc_table import markdown
from artmatch.pairs import read_prepared
from artmatch.export import load_model
from artmatch.features import cached_features
from artmatch.models import embedding_vectors

SHRINKS, KS = [0.0, 0.1, 1.0], [5, 10, 50]

def fold_vectors(run:Path, data:Path) -> tuple[pd.DataFrame, torch.Tensor, int]:
    "The works of the fold folder `data`, the raw outputs of `run`'s head for each (from the feature cache), its artist count."
    model = load_model(run).eval()
    works, _ = read_prepared(data)
    features = cached_features(model, [data/p for p in works.image], data/'features')
    if features.dim() == 3: features = features[:, 0]
    with torch.no_grad(): out = torch.cat([model.head(features[s:s + 4096]) for s in range(0, len(features), 4096)])
    return works, out.float(), len(model.config['artists'] or [])

def unit(v:torch.Tensor) -> torch.Tensor: return F.normalize(v, dim=1)

def whiten(train:torch.Tensor, shrink:float):
    "The map x -> unit((x - mean) W), W the PCA whitening of `train` with eigenvalues raised by `shrink` x their mean."
    mean = train.mean(0)
    cov = torch.cov((train - mean).T.double())
    values, vectors = torch.linalg.eigh(cov)
    values = values.clamp(min=0)
    w = (vectors / torch.sqrt(values + shrink * values.mean() + 1e-12)).float()
    return lambda x: unit((x - mean) @ w)

def csls_scores(vectors:torch.Tensor, reference:torch.Tensor, k:int) -> tuple[torch.Tensor, torch.Tensor]:
    "Unit `vectors` and r(x): the mean cosine of each to its `k` nearest `reference` vectors."
    r = torch.cat([(vectors[s:s + 2048] @ reference.T).topk(k, dim=1).values.mean(1) for s in range(0, len(vectors), 2048)])
    return vectors, r

def pair_scores(vectors:torch.Tensor, rows:np.ndarray, pairs:pd.DataFrame, index:dict, r=None) -> np.ndarray:
    "Scores of `pairs` from the similarity matrix of the works `rows` (cosine, or CSLS with `r`)."
    v = vectors[rows]
    sim = v @ v.T
    if r is not None: sim = 2 * sim - r[rows][:, None] - r[rows][None, :]
    i = torch.from_numpy(pairs.image1.map(index).to_numpy())
    j = torch.from_numpy(pairs.image2.map(index).to_numpy())
    return sim[i, j].numpy()

def variants(works:pd.DataFrame, out:torch.Tensor, n_artists:int) -> dict:
    "Per-work unit vectors (and CSLS terms) of every variant, fitted on the training works."
    train = torch.from_numpy((works.split == 'train').to_numpy())
    trained = embedding_vectors(out, n_artists)
    found = {'as trained': (trained, None), 'centred': (unit(trained - trained[train].mean(0)), None)}
    for s in SHRINKS: found[f'whitened (shrink {s})'] = (whiten(trained[train], s)(trained), None)
    for k in KS: found[f'CSLS ({k})'] = csls_scores(trained, trained[train], k)
    if n_artists:
        found['metric half'] = (unit(out[:, :-n_artists]), None)
        found['artist half'] = (out[:, -n_artists:].softmax(1).sqrt(), None)
    return found

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', type=Path, default=ROOT/'results'/'unseen', help="unseen.py's folder")
    p.add_argument('--folds', type=int, default=5)
    a = p.parse_args()
    rows = []
    for f in range(a.folds):
        data, run = a.out/f'fold-{f}', a.out/f'run-embedding-{f}'
        works, out, n_artists = fold_vectors(run, data)
        pairs = read_prepared(data)[1]
        artist = dict(zip(works.image, works.artist))
        for name, (vectors, r) in variants(works, out, n_artists).items():
            result = dict(variant=name, fold=f)
            for split in ('valid', 'test'):
                chosen = pairs[pairs.split == split]
                members = np.flatnonzero((works.split == split).to_numpy())
                index = {image: k for k, image in enumerate(works.image.to_numpy()[members])}
                scores = pair_scores(vectors, members, chosen, index, r)
                result[f'{split}_auc'] = float(skm.roc_auc_score(chosen.same, scores))
                if split == 'test': result['per_artist'] = per_artist_auc(chosen, scores, artist)
            rows.append(result)
            print(f"fold {f} {name}: valid {result['valid_auc']:.4f} test {result['test_auc']:.4f}", flush=True)
    (a.out/'postprocess.json').write_text(json.dumps(rows, indent=1))
    report(a.out, rows)

def report(out:Path, rows:list) -> None:
    df = pd.DataFrame(rows)
    table = df.pivot(index='variant', columns='fold', values='test_auc')
    table.columns = [f'fold {c}' for c in table.columns]
    table = table.round(3)
    table['mean test AUC'] = df.groupby('variant').test_auc.mean().round(3)
    table['95 % interval'] = [('%.3f-%.3f' % tuple(t_interval(df[df.variant == v].test_auc))) for v in table.index]
    table['mean valid AUC'] = df.groupby('variant').valid_auc.mean().round(3)
    base = {k: v for r in rows if r['variant'] == 'as trained' for k, v in r['per_artist'].items()}
    diffs = []
    for v in table.index:
        mine = {k: x for r in rows if r['variant'] == v for k, x in r['per_artist'].items()}
        d = paired_difference(base, mine)
        diffs.append(f"{d['mean']:+.4f} ({d['ci95'][0]:+.4f} to {d['ci95'][1]:+.4f})")
    table['per-artist difference from as trained'] = diffs
    order = ['as trained', 'centred'] + [f'whitened (shrink {s})' for s in SHRINKS] + [f'CSLS ({k})' for k in KS] + \
            [v for v in ('metric half', 'artist half') if v in table.index]
    table = table.loc[order]
    best = {family: max((v for v in table.index if v.startswith(family)), key=lambda v: table.loc[v, 'mean valid AUC'])
            for family in ('whitened', 'CSLS')}
    text = ("Label-free post-processing of the default embedding on 5 artist folds (`benchmarks/unseen_postprocess.py`), "
            "fitted on each fold's training works; test ROC AUC over all pairs of each fold's test works.\n\n"
            + markdown(table) +
            f"\n\nChosen on validation artists: {best['whitened']}, {best['CSLS']}.\n")
    (out/'postprocess.md').write_text(text)
    print(text)

if __name__ == '__main__': main()
