"""Attribution against an index of works by artists the model never saw: accuracy, "none of these", time and memory.

    python benchmarks/attribution.py            # ../shared's WikiArt works, split by artist, EfficientNet-Lite2 embedding model
    python benchmarks/attribution.py --data /tmp/bench/artist --run /tmp/bench/results-artist/run-artist-embedding-None

Prepares the shared set with `--split-by artist` and trains an embedding model on it (the README's command) unless DATA
and RUN already hold them. Then, on the test artists only (never seen in training):

- index: `build_index` on every test work but one held-out work per artist (a CSV collection), timed, with the process's
  peak memory; the held-out works are attributed with `attribute` (end to end, every test artist in the index), then
  added to the collection and indexed again (incremental: only they are embedded);
- accuracy: the test artists are split in two halves; each half in turn is the index and the other half stands for
  artists absent from the collection. In round r the r-th work (in a random order) of every artist is held out: the
  index's own held-out works are attributed against the index minus them (top-1 and top-5 accuracy, and how often no
  artist clears the model's threshold although the right one is there: "missed"), and the other half's r-th works
  against the whole index (how often no artist clears the threshold: "none of these", the right answer there). Every
  way of scoring an artist (`by`: the best work, the mean of the 3 or 5 best, the mean of all, the prototype) is compared
  on the same queries. Round counts are capped by the artist with the fewest test works;
- scale: the index's vectors repeated to 10,000 and 100,000 works, to time `rank_artists` per query image and measure
  the memory of the vectors.
"""
import argparse, os, platform, resource, shutil, time, warnings
from pathlib import Path
import numpy as np, pandas as pd, torch
import sklearn.metrics as skm
from scipy.special import expit
from artmatch.pairs import prepare, read_prepared
from artmatch.core import write_csv
from artmatch.train import train
from artmatch.export import load_model
from artmatch.scoring import Embeddings, check_method
from artmatch.attribute import attribute, rank_artists, none_threshold
from artmatch.index import build_index, load_index, WorkIndex

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent/'shared'
BYS = ['max', 'top3', 'top5', 'mean', 'prototype']

def markdown(df:pd.DataFrame, index:bool=True) -> str:
    "A markdown table of `df` (its index first if `index`), numbers with 3 decimals."
    fmt = lambda v: '' if v is None or (isinstance(v, float) and np.isnan(v)) else f'{v:,.3f}' if isinstance(v, float) else str(v)
    head = ([''] if index else []) + list(df.columns)
    rows = [([str(i)] if index else []) + [fmt(v) for v in r] for i, r in zip(df.index, df.itertuples(index=False))]
    return '\n'.join(['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)] + ['| ' + ' | '.join(r) + ' |' for r in rows])

def peak_mb() -> float: return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def cpu_s() -> float:
    "CPU seconds (user and system) this process has used, on all its threads."
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

def rss_mb() -> float: return int(Path('/proc/self/statm').read_text().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20

def ensure_model(args) -> None:
    "Prepare the shared set split by artist and train the embedding model of the README, unless they exist."
    if not (args.data/'works.csv').exists(): prepare(args.source, args.data, split_by='artist', seed=args.seed)
    if not (args.run/'model.safetensors').exists():
        train('embedding', args.data, args.run, arch='tf_efficientnet_lite2', weights=args.weights)

def held_out_order(test:pd.DataFrame, seed:int) -> pd.Series:
    "For each test work, its place in a random order of its artist's works (0 is held out in round 0)."
    rng = np.random.default_rng(seed)
    return test.groupby('artist').image.transform(lambda s: rng.permutation(len(s))).astype(int)

def index_and_attribute(model, test:pd.DataFrame, out:Path) -> dict:
    "Index every test work but round 0's, attribute round 0's end to end, add them incrementally; timings and results."
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    held = test.place == 0
    write_csv(test[~held][['image', 'artist']], out/'collection.csv')
    before, t, cpu = rss_mb(), time.time(), cpu_s()
    counts = build_index(model, out/'collection.csv', out/'index')
    build_s, build_cpu, build_peak, load = time.time() - t, cpu_s() - cpu, peak_mb(), os.getloadavg()[1]
    t = time.time()
    ranking = attribute(model, out/'index', test[held].image.tolist(), top=5)
    attribute_s = time.time() - t
    write_csv(test[['image', 'artist']], out/'collection.csv')
    t = time.time()
    added = build_index(model, out/'collection.csv', out/'index')
    first = ranking[ranking['rank'] == 1].set_index('image')
    truth = test[held].set_index('image').artist
    disk = sum(f.stat().st_size for f in (out/'index'/'vectors').iterdir())
    return dict(works=counts['works'], embedded=counts['embedded'], build_s=build_s, build_cpu=build_cpu, load=load, rss_before=before, build_peak=build_peak,
                attribute_s=attribute_s, queries=int(held.sum()), added=added['embedded'], add_s=time.time() - t, disk=disk,
                top1=float((first.artist == truth[first.index]).mean()),
                top5=float(ranking.groupby('image').apply(lambda g: truth[g.name] in set(g.artist)).mean()))

def accuracy(model, full:WorkIndex, rounds:int, seed:int) -> tuple[pd.DataFrame, pd.DataFrame]:
    "Attribution (top-1, top-5, 'none of these' at each threshold) of every `by`, and verification (prototype) rates, over two halves of the artists and `rounds` held-out works each."
    method = check_method(model, None)
    pair_t = model.config.get('thresholds', {}).get(method, 0.5)
    artists = np.random.default_rng(seed).permutation(full.artists)
    halves = [set(artists[:len(artists) // 2]), set(artists[len(artists) // 2:])]
    place, artist = full.works.place.to_numpy(), full.works.artist.to_numpy()
    rows = []
    for inside, _ in [halves, halves[::-1]]:
        in_index = np.isin(artist, list(inside))
        for r in range(rounds):
            index, queries = full[in_index & (place != r)], full[place == r]
            truth = dict(zip(queries.works.image, queries.works.artist))
            for by in BYS:
                t = none_threshold(model, index, by, method)
                ranking = rank_artists(model, index, queries.vectors, top=len(index.artists), by=by, threshold=t)
                for image, g in ranking.groupby('image', sort=False):
                    scores, known = dict(zip(g.artist, g.score)), truth[image] in inside
                    other = g.artist[g.artist != truth[image]].iloc[r % (len(g) - known)]      # another artist, in turn
                    rows.append(dict(by=by, known=known, top1=g.artist.iloc[0] == truth[image], top5=truth[image] in set(g.artist.iloc[:5]),
                                     best=g.score.iloc[0], t=t, own=scores.get(truth[image], np.nan), other=scores[other]))
    q = pd.DataFrame(rows)
    attribution = {}
    for by, g in q.groupby('by', sort=False):
        known, unknown = g[g.known], g[~g.known]
        attribution[by] = {'top-1': known.top1.mean(), 'top-5': known.top5.mean(), 'none_threshold (mean)': g.t.mean(),
                           'none of these: artist absent (right)': (unknown.best < unknown.t).mean(),
                           'none of these: artist present (wrong)': (known.best < known.t).mean(),
                           'right artist first and clears': (known.top1 & (known.best >= known.t)).mean(),
                           'pair threshold: none of these, absent': (unknown.best < pair_t).mean(),
                           'pair threshold: none of these, present': (known.best < pair_t).mean(), 'queries in / out': f"{len(known)} / {len(unknown)}"}
    known = q[q.known & (q.by == 'prototype')]          # `verify` scores against the prototype
    slope, intercept, set_t = model.config['verification'][method]
    p_own, p_other = (expit(slope * known[k] + intercept) for k in ('own', 'other'))
    verification = pd.DataFrame({
        '`verify`: calibrated probability': {'own artist: same': (p_own >= set_t).mean(), 'another artist: different': (p_other < set_t).mean(),
                                             'threshold': set_t, 'mean P, own artist': p_own.mean(), 'mean P, another artist': p_other.mean()},
        "the model's pair threshold (before)": {'own artist: same': (known.own >= pair_t).mean(), 'another artist: different': (known.other < pair_t).mean(),
                                                'threshold': pair_t}}).T
    auc = skm.roc_auc_score(np.r_[np.ones(len(known)), np.zeros(len(known))], np.r_[known.own, known.other])
    return pd.DataFrame.from_dict(attribution, orient='index'), verification.assign(**{'ROC AUC own vs other': auc, 'queries': len(known)})

def scaled(index:WorkIndex, n:int) -> WorkIndex:
    "`index`'s works repeated to `n` works, each copy of an artist a new artist (the vectors are what is timed)."
    reps = -(-n // len(index))
    pick = np.arange(reps * len(index))[:n] % len(index)
    works = index.works.iloc[pick].assign(artist=[f"{a} #{k // len(index)}" for k, a in enumerate(index.works.artist.iloc[pick])])
    v = index.vectors
    emb = Embeddings(works.image, *(None if t is None else t[pick] for t in (v.features, v.probs)), {}, v.embeddings[pick])
    return WorkIndex(works, emb, index.info)

def scale_rows(model, full:WorkIndex, queries:int=16) -> pd.DataFrame:
    "Seconds to choose the index's threshold, per query image for `rank_artists`, and MB of vectors, for indexes of 10,000 and 100,000 works."
    rows = {}
    q = full[np.arange(queries)].vectors
    for n in (10_000, 100_000):
        index = scaled(full, n)
        t = time.time()
        none_threshold(model, index)
        t, threshold_s = time.time(), time.time() - t
        rank_artists(model, index, q, top=5)
        rows[f"{n:,} works"] = {'s per image': (time.time() - t) / queries, 'threshold s': threshold_s,
                                'vectors MB': index.vectors.embeddings.nbytes / 2**20, 'artists': len(index.artists)}
    return pd.DataFrame.from_dict(rows, orient='index')

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--source', type=Path, default=SHARED/'data/artworks', help="collection to prepare if DATA is not prepared")
    p.add_argument('--data', type=Path, default=Path('/tmp/attr/artist'), help="prepared folder, split by artist")
    p.add_argument('--run', type=Path, default=Path('/tmp/attr/run'), help="model folder trained on DATA (trained if missing)")
    p.add_argument('--weights', type=Path, default=SHARED/'weights/efficientnet_lite2_imagenet.pth', help="ImageNet weights to train from")
    p.add_argument('--out', type=Path, default=Path('/tmp/attr/bench'), help="working folder for the index (emptied)")
    p.add_argument('--rounds', type=int, default=30, help="held-out works per artist (at most the fewest test works of an artist)")
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--quick', action='store_true', help="6 test artists and 3 rounds: only checks that the script works")
    args = p.parse_args()
    warnings.filterwarnings('ignore')
    ensure_model(args)
    model = load_model(args.run)
    works = read_prepared(args.data)[0]
    test = works[works.split == 'test'].assign(image=lambda d: [str((args.data/p).resolve()) for p in d.image]).reset_index(drop=True)
    if args.quick: test = test[test.artist.isin(sorted(test.artist.unique())[:6])].reset_index(drop=True)
    test = test.assign(place=held_out_order(test, args.seed))
    rounds = min(3 if args.quick else args.rounds, int(test.artist.value_counts().min()))

    e2e = index_and_attribute(model, test, args.out)
    full = load_index(args.out/'index', model)
    full.works['place'] = full.works.image.map(test.set_index('image').place)
    acc, ver = accuracy(model, full, rounds, args.seed)
    scale = scale_rows(model, full)

    n, per10k = e2e['works'], 10_000 / e2e['works']
    print(f"# Attribution on {args.data} ({test.artist.nunique()} test artists, {len(test)} works), model {args.run}")
    print(f"{platform.machine()}, {torch.get_num_threads()} torch threads, threshold {model.config['thresholds']}\n")
    print("## Attribution (rounds of one held-out work per artist; half the artists in the index, half left out)\n")
    print(markdown(acc))
    print(f"\nchance top-1: {2 / test.artist.nunique():.3f} (one of about {test.artist.nunique() // 2} indexed artists); {rounds} rounds; "
          f"'none of these': no artist clears the index's threshold (`none_threshold`), or the model's pair threshold {model.config['thresholds']}\n")
    print("## Verification (the same queries, against their own artist's indexed works and against another artist's)\n")
    print(markdown(ver) + "\n")
    print("## End to end: index of every test work but one per artist, `attribute` on the held-out works (default by)\n")
    print(markdown(pd.DataFrame([{'top-1': e2e['top1'], 'top-5': e2e['top5'], 'queries': e2e['queries'],
                         'indexed artists': test.artist.nunique()}]), index=False))
    print("\n## Time and memory\n")
    time_rows = [('index: embed and store', 'works', n, e2e['build_s'], 'min per 10,000 works (load average %.1f)' % e2e['load'], e2e['build_s'] * per10k / 60),
                 ('index: embed and store, CPU time', 'works', n, e2e['build_cpu'], 'CPU min per 10,000 works', e2e['build_cpu'] * per10k / 60),
                 ('index: add works (incremental)', 'works', e2e['added'], e2e['add_s'], 'works embedded again', e2e['added']),
                 ('index: vectors on disk', 'works', n, None, 'MB per 10,000 works', e2e['disk'] * per10k / 2**20),
                 ('index: peak memory of the process', 'works', n, None, 'MB (before the build: %.0f)' % e2e['rss_before'], e2e['build_peak']),
                 ('attribute, end to end (embedding included)', 'images', e2e['queries'], e2e['attribute_s'], 's per image', e2e['attribute_s'] / e2e['queries'])]
    for k, r in scale.iterrows():
        time_rows += [(f'none_threshold of an index of {k} ({int(r.artists):,} artists)', 'index', 1, r['threshold s'], 's, once per index and by', r['threshold s']),
                      (f'rank_artists against {k}', 'images', 16, None, 's per image (vectors %.0f MB)' % r['vectors MB'], r['s per image'])]
    print(markdown(pd.DataFrame(time_rows, columns=['step', 'of', 'count', 'seconds', 'measure', 'value']), index=False))

if __name__ == '__main__': main()
