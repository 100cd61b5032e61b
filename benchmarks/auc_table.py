"""Test ROC AUC of every artmatch approach, with its defaults, against frozen-feature baselines, on a work split and an artist split.

    python benchmarks/auc_table.py           # ../shared's WikiArt works and EfficientNet-Lite2 weights: about 70 minutes on 2 CPU cores
    python benchmarks/auc_table.py --quick   # a tiny run that only checks the script works

For each split the shared set is prepared with `prepare`'s defaults (256 px, 36 partners, natural ratio in validation and
test), then every approach is trained with `train`'s defaults (224-pixel crops, ImageNet weights, body frozen, head trained
to its best validation epoch on cached features) and scored on the test pairs by `evaluate_model`. The baselines use no
training of artmatch's: the frozen backbone's features compared by cosine, and a logistic regression over the training
artists on those features, whose probabilities are compared by dot product (softmax-dot), both for the backbone's final
features and for its style features (every stage's mean and spread, artmatch's default body). Each row has its training
minutes and a bootstrap 95 % interval over test artists. Every model of a split reads the frozen body's features from the
prepared folder's feature cache, computed once (for the baselines); a row's minutes are the rest of its `train` call, and
the table says how long the cache took. Writes OUT/auc_table.md and OUT/results.json.
"""
import argparse, json, platform, time, warnings
from pathlib import Path
import numpy as np, pandas as pd, torch, torch.nn.functional as F
import sklearn.metrics as skm
from sklearn.linear_model import LogisticRegression
from artmatch.pairs import prepare, read_prepared
from artmatch.train import train
from artmatch.export import load_model
from artmatch.evaluate import evaluate_model, embed_pairs
from artmatch.models import build_model
from artmatch.features import cached_features

ROOT = Path(__file__).resolve().parents[1]

def trained_rows(split:str):
    "(row name, name in --approaches, approach, head, other `train` options) of each model to train."
    yield 'embedding (default)', 'embedding', 'embedding', None, {}
    yield 'embedding, --tta (each image averaged with its mirror image)', 'embedding-tta', 'embedding', None, {'tta': True}
    yield 'classifier', 'classifier', 'classifier', 'softmax', {}
    yield 'Siamese, symmetric head', 'siamese', 'siamese', 'symmetric', {}
    if split == 'work': yield "Siamese, concat head (the reference project's)", 'siamese-concat', 'siamese', 'concat', {}

def bootstrap_auc(pairs:pd.DataFrame, artist:dict, scores, reps:int=200, seed:int=0) -> tuple[float, float]:
    "95 % interval of ROC AUC when the test artists are drawn again with replacement (a pair counts once per draw of each side's artist)."
    rng = np.random.default_rng(seed)
    a1, a2 = pairs.image1.map(artist).to_numpy(), pairs.image2.map(artist).to_numpy()
    artists = np.unique(np.concatenate([a1, a2]))
    scores, same = np.asarray(scores, dtype=float), pairs.same.to_numpy()
    aucs = []
    for _ in range(reps):
        counts = pd.Series(rng.choice(artists, len(artists))).value_counts()
        w = counts.reindex(a1, fill_value=0).to_numpy() * np.where(same == 1, 1, counts.reindex(a2, fill_value=0).to_numpy())
        ok = (w > 0) & np.isfinite(scores)
        if len(np.unique(same[ok])) == 2: aucs.append(skm.roc_auc_score(same[ok], scores[ok], sample_weight=w[ok]))
    return tuple(np.percentile(aucs, [2.5, 97.5]))

def pair_dots(x:torch.Tensor, i:torch.Tensor, j:torch.Tensor, chunk:int=50_000) -> np.ndarray:
    "Dot products of the rows x[i[k]] and x[j[k]], a chunk of pairs at a time (all pairs of a fold do not fit in memory at once)."
    return np.concatenate([(x[i[s:s + chunk]] * x[j[s:s + chunk]]).sum(1).numpy() for s in range(0, len(i), chunk)])

def frozen_baselines(data:Path, arch:str, weights:Path, size:int, n_final:int):
    "(row name, test pair scores) of the frozen backbone's features, style then final: cosine, then logistic-regression softmax-dot."
    works, pairs = read_prepared(data)
    model = build_model('siamese', arch, weights=weights)        # only its body is used
    model.config['size'] = size
    features = cached_features(model, [data/p for p in works.image], data/'features')[:, 0]
    test, position = pairs[pairs.split == 'test'], {p: k for k, p in enumerate(works.image)}
    i, j = (torch.from_numpy(test[c].map(position).to_numpy()) for c in ('image1', 'image2'))
    train_works = (works.split == 'train').to_numpy()
    for kind, cols in [('style', slice(None)), ('final', slice(-n_final, None))]:
        x = features[:, cols]
        x = (x - x.mean(0)) / (x.std(0) + 1e-6)
        yield f'frozen {kind} features, cosine', pair_dots(F.normalize(x, dim=1), i, j)
        lr = LogisticRegression(C=0.1, max_iter=300).fit(x[train_works].numpy(), works.artist[train_works])
        yield f'frozen {kind} features + logistic regression, softmax-dot', pair_dots(torch.tensor(lr.predict_proba(x.numpy())), i, j)

def embedding_halves(model, emb, data:Path, test:pd.DataFrame):
    "(half, test pair scores) of the cosine of each half of the embedding model's vectors (`emb`): the metric embedding, the artist probabilities' square roots."
    n = len(model.config['artists'])
    a, b = (torch.tensor([emb.index[str(data/p)] for p in test[c]]) for c in ('image1', 'image2'))
    for half, cols in [('metric embedding', slice(None, -n)), ('artist probabilities', slice(-n, None))]:
        v = F.normalize(emb.embeddings[:, cols], dim=1)
        yield half, (v[a] * v[b]).sum(1).numpy()

def markdown(df:pd.DataFrame) -> str:
    "A markdown table of `df`, index first."
    head = ['', *df.columns]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    lines += ['| ' + ' | '.join([str(i), *('' if pd.isna(v) else str(v) for v in r)]) + ' |' for i, r in df.iterrows()]
    return '\n'.join(lines)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data', type=Path, default=ROOT.parent/'shared/data/artworks')
    p.add_argument('--weights', type=Path, default=ROOT.parent/'shared/weights/efficientnet_lite2_imagenet.pth')
    p.add_argument('--arch', default='tf_efficientnet_lite2')
    p.add_argument('--out', type=Path, default=ROOT/'benchmarks/results')
    p.add_argument('--splits', default='work,artist')
    p.add_argument('--approaches', default='embedding,classifier,siamese,siamese-concat',
                   help='which rows to train (the baselines always run); embedding-tta: the embedding with --tta, a second feature cache')
    p.add_argument('--prepared', type=Path, default=None,
                   help='a folder whose SPLIT/ sub-folders were prepared from --data before (their feature caches are reused); default: OUT/data-SPLIT')
    p.add_argument('--quick', action='store_true', help='tiny settings: 14 artists, 64 px, squeezenet1_0')
    a = p.parse_args()
    size, artists = (64, 14) if a.quick else (224, None)
    if a.quick: a.arch, a.weights = 'squeezenet1_0', a.weights.with_name('squeezenet1_0_imagenet.pth')
    warnings.simplefilter('ignore')
    a.out.mkdir(parents=True, exist_ok=True)
    n_final = build_model('siamese', a.arch, pretrained=False, pooling='final').config['n_features']
    results = json.loads((a.out/'results.json').read_text()) if (a.out/'results.json').exists() else {}   # rows of earlier calls stay
    cache_minutes = results.pop('cache minutes', {})
    for split in a.splits.split(','):
        data = a.prepared/split if a.prepared else a.out/f'data-{split}'
        prepare(a.data, data, artists=artists, split_by=split, size=size * 256 // 224, seed=0)
        works, pairs = read_prepared(data)
        test, artist = pairs[pairs.split == 'test'], dict(zip(works.image, works.artist))
        def add(name, scores, minutes):
            lo, hi = bootstrap_auc(test, artist, scores)
            auc = skm.roc_auc_score(test.same, scores)
            results[f'{split}/{name}'] = dict(roc_auc=auc, ci95=[lo, hi], minutes=minutes)
            print(f'{split} split, {name}: AUC {auc:.3f} ({lo:.3f}-{hi:.3f}), {minutes} min', flush=True)
        start = time.time()
        for name, scores in frozen_baselines(data, a.arch, a.weights, size, n_final): add(name, scores, '')
        cache_minutes[split] = round((time.time() - start) / 60, 1)
        print(f'frozen features of every work, and the baselines: {cache_minutes[split]} min', flush=True)
        for name, key, approach, head, options in trained_rows(split):
            if key not in a.approaches.split(','): continue
            run = a.out/f"run-{split}-{approach}-{head}{'-tta' if options.get('tta') else ''}"
            start = time.time()
            train(approach, data, run, arch=a.arch, head=head, weights=a.weights, size=size, **options)
            minutes = round((time.time() - start) / 60, 1)
            model = load_model(run)
            emb = embed_pairs(model, data, 'test')         # each image once, for the evaluation and the halves
            evaluate_model(model, data, 'test', out=run/'eval', emb=emb)
            scored = pd.read_csv(run/'eval/test_scores.csv')
            for method, by_method in scored.groupby('method', sort=False):
                add(name if approach != 'classifier' else f'{name}: {method}', by_method.score.to_numpy(), minutes)
            if approach == 'embedding':
                for half, scores in embedding_halves(model, emb, data, test): add(f'{name}, {half} alone', scores, minutes)
            write_table(a, results, cache_minutes, size)
    write_table(a, results, cache_minutes, size)

def write_table(a, results:dict, cache_minutes:dict, size:int) -> None:
    "Print and write the table of the rows so far (this call's and those in OUT/results.json before it)."
    rows = {}
    for key, r in results.items():
        split, name = key.split('/', 1)
        rows.setdefault(name, {})[f'{split} split'] = f"{r['roc_auc']:.3f} ({r['ci95'][0]:.3f}-{r['ci95'][1]:.3f})"
        rows[name][f'{split}: minutes'] = r['minutes']
    table = pd.DataFrame.from_dict(rows, orient='index')
    machine = f"{platform.machine()}, {torch.get_num_threads()} torch threads, no GPU"
    text = (f"Test ROC AUC (bootstrap 95 % interval over test artists) and training minutes, {a.arch} from {a.weights.name}, "
            f"{size} px crops, `train`'s defaults; machine: {machine}. Frozen features of every work, computed once per split "
            f"and shared by every row through the feature cache: {cache_minutes} minutes; a row's minutes are the rest of its "
            f"`train` call (head stage, thresholds on validation pairs, saving).\n\n" + markdown(table) + '\n')
    print(text)
    (a.out/'auc_table.md').write_text(text)
    (a.out/'results.json').write_text(json.dumps({**results, 'cache minutes': cache_minutes}, indent=2, default=float))

if __name__ == '__main__': main()
