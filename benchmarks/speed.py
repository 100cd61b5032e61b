"""Speed of artmatch's fast paths against the naive ones, measured side by side in one run; prints a Markdown table.

    python benchmarks/speed.py            # ../shared artworks (40 artists) and ImageNet SqueezeNet weights: about 20 minutes on 2 CPU cores
    python benchmarks/speed.py --tiny     # seconds: only checks the script works (a test runs this)

Rows (naive, artmatch, ratio):
- head stage: seconds per epoch of training the Siamese head with the body frozen, images through the body at every
  step (fastai's Siamese tutorial) vs on cached features (`head_learner`), and the validation ROC AUC each reaches;
- fine-tune: training pairs per second with the body unfrozen, both images of every pair (`pair_dls(naive=True)`)
  vs each distinct image once per planned batch (`pair_dls`), pairs from the prepared `--partners`;
- all-pairs: seconds to score Kaggle's 21,916,047 test pairs over 23,817 synthetic embeddings (AlexNet's 4096
  features with the concat head; 1,584 artist probabilities with softmax-dot), pairs listed group by group like
  Kaggle's; the naive figure is the head (or dot product) on gathered features, timed on a sample and scaled up;
- embedding: images per second of `embed_images` (reading, cropping, body) vs the raw body on the same batches
  already in memory;
- resize: images per second of `resize_works` (JPEG draft mode, a process per core) vs `Image.open().resize()` in
  one process, on large JPEGs made from the shared artworks.
"""
import argparse, json, os, platform, resource, shutil, tempfile, time, warnings
from pathlib import Path
import numpy as np, pandas as pd, torch
from PIL import Image
from fastai.vision.all import set_seed
from artmatch.data import sample_path, read_collection
from artmatch.pairs import prepare, read_prepared
from artmatch.images import resize_works
from artmatch.loaders import pair_dls
from torch import nn
from artmatch.models import PairHead, SiameseModel, ArtistClassifier
from artmatch.learner import siamese_learner
from artmatch.features import head_learner
from artmatch.scoring import Embeddings, PairScorer, score_ids, embed_images, WorkImages

ROOT = Path(__file__).resolve().parents[1]
warnings.filterwarnings('ignore')

def timed(f):
    start = time.perf_counter()
    result = f()
    return time.perf_counter() - start, result

def row(item, unit, naive, fast, note=''):
    "One table row; `ratio` is how many times faster artmatch is (for times, naive / fast)."
    ratio = naive / fast if unit.startswith('s') else fast / naive
    return dict(item=item, unit=unit, naive=naive, artmatch=fast, ratio=ratio, note=note)

def kaggle_groups(n_images:int, n_pairs:int) -> tuple[np.ndarray, np.ndarray]:
    "Every pair inside equal groups of consecutive images (as Kaggle's test pairs), as many groups as give `n_pairs`."
    n_groups = max(1, int(n_images ** 2 / (2 * n_pairs + n_images)))
    a, b = [], []
    for g in np.array_split(np.arange(n_images), n_groups):
        i, j = np.triu_indices(len(g), 1)
        a.append(g[i]); b.append(g[j])
    a, b = np.concatenate(a), np.concatenate(b)
    if len(a) < n_pairs: raise SystemExit(f"{n_images} images in groups give only {len(a)} pairs")
    flip = np.random.default_rng(0).random(n_pairs) < 0.5   # either order inside a pair, as in Kaggle's file
    return np.where(flip, b[:n_pairs], a[:n_pairs]), np.where(flip, a[:n_pairs], b[:n_pairs])

def naive_scores(scorer_kind, head, x, a, b, chunk=4096):
    "The head (or dot product) on gathered features of each pair, chunk by chunk."
    with torch.no_grad():
        for s in range(0, len(a), chunk):
            i, j = torch.from_numpy(a[s:s + chunk]), torch.from_numpy(b[s:s + chunk])
            if scorer_kind == 'concat': torch.sigmoid(head(x[i], x[j]))
            else: (x[i] * x[j]).sum(1)

def all_pairs_rows(n_images, n_pairs, n_features, n_artists, sample):
    torch.manual_seed(0)
    a, b = kaggle_groups(n_images, n_pairs)
    rows = []
    head = PairHead(n_features).eval()
    features = torch.randn(n_images, n_features).relu_()
    emb = Embeddings(range(n_images), features, None, {})
    model = SiameseModel(nn.Identity(), head)
    model.config = {'approach': 'siamese', 'head': 'concat'}
    fast, _ = timed(lambda: score_ids(PairScorer(model, emb, 'siamese'), a, b))
    naive, _ = timed(lambda: naive_scores('concat', head, features, a[:sample], b[:sample]))
    rows.append(row(f'all-pairs, concat head, {n_pairs:,} pairs', 's', naive * n_pairs / sample, fast,
                    f'scoring functions only, random features, untrained head; naive timed on {sample:,} pairs and scaled'))
    probs = torch.randn(n_images, n_artists).softmax(1)
    emb = Embeddings(range(n_images), features[:, :8], probs, {})
    model = ArtistClassifier(nn.Identity(), 8, n_artists)
    model.config = {'approach': 'classifier', 'head': 'softmax'}
    fast, _ = timed(lambda: score_ids(PairScorer(model, emb, 'softmax_dot'), a, b))
    naive, _ = timed(lambda: naive_scores('dot', None, probs, a[:sample], b[:sample]))
    rows.append(row(f'all-pairs, softmax-dot over {n_artists:,} artists', 's', naive * n_pairs / sample, fast,
                    f'scoring functions only, random probabilities; naive timed on {sample:,} pairs and scaled'))
    return rows

def big_jpegs(source:Path, folder:Path, n:int, side:int) -> pd.DataFrame:
    "`n` large JPEGs (`side` pixels on the longer side) upscaled from the works of `source`."
    folder.mkdir(parents=True, exist_ok=True)
    works = read_collection(source).head(n)
    out = []
    for k, (path, artist) in enumerate(zip(works.image, works.artist)):
        im = Image.open(path).convert('RGB')
        big = im.resize((side, side * im.height // im.width), Image.Resampling.BICUBIC)
        big.save(folder/f'{k}.jpg', quality=90)
        out.append((str(folder/f'{k}.jpg'), artist))
    return pd.DataFrame(out, columns=['image', 'artist'])

def plain_resize(works:pd.DataFrame, out:Path, size:int):
    out.mkdir(parents=True, exist_ok=True)
    for k, path in enumerate(works.image):
        im = Image.open(path).convert('RGB')
        scale = size / min(im.size)
        im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.BILINEAR).save(out/f'{k}.jpg', quality=90)

def resize_rows(source, tmp, n, side, size):
    works = big_jpegs(source, tmp/'big', n, side)
    naive, _ = timed(lambda: plain_resize(works, tmp/'plain', size))
    fast, _ = timed(lambda: resize_works(works, tmp/'fast', size))
    return [row(f'resize {n} JPEGs of {side} px to {size}', 'images/s', n / naive, n / fast)]

def train_epoch(learn) -> float:
    "Seconds for one epoch of `learn`, and the ROC AUC it then reaches on validation pairs."
    seconds, _ = timed(lambda: learn.fit(1, 1e-3))
    return seconds, float(learn.recorder.values[-1][2])

def learner(data, arch, weights, size, bs, naive, frozen):
    "A Siamese learner over `weights` (ImageNet) or random weights, its body frozen or not."
    set_seed(0, reproducible=True)
    learn = siamese_learner(pair_dls(data, size, bs, naive=naive, num_workers=0), arch, pretrained=weights is not None, weights=weights)
    if frozen: learn.freeze()
    else: learn.unfreeze()
    return learn

def head_rows(data, arch, weights, size, bs):
    t_naive, auc_naive = train_epoch(learner(data, arch, weights, size, bs, naive=True, frozen=True))
    learn = learner(data, arch, weights, size, bs, naive=False, frozen=True)
    shutil.rmtree(data/'features', ignore_errors=True)
    t_cache, hlearn = timed(lambda: head_learner(learn))
    t_fast, auc_fast = train_epoch(hlearn)
    return [row('head stage, one epoch (frozen body)', 's/epoch', t_naive, t_fast,
                f'validation AUC {auc_naive:.3f} naive, {auc_fast:.3f} cached; computing the cache once: {t_cache:.1f} s'),
            row('head stage, cache + one epoch', 's', t_naive, t_cache + t_fast, 'first run, cache included')]

def pairs_per_second(learn, n_batches) -> float:
    "Training pairs per second of `learn` over its first `n_batches` batches (body unfrozen)."
    learn.model.train()
    opt = torch.optim.SGD(learn.model.parameters(), 1e-3)
    n, it = 0, iter(learn.dls.train)
    start = time.perf_counter()
    for _ in range(n_batches):
        *xb, yb = next(it)
        loss = learn.loss_func(learn.model(*xb), yb)
        opt.zero_grad(); loss.backward(); opt.step()
        n += len(yb)
    return n / (time.perf_counter() - start)

def fine_tune_rows(data, arch, weights, size, bs, n_batches):
    rates = {}
    for naive in (True, False):
        rates[naive] = pairs_per_second(learner(data, arch, weights, size, bs, naive=naive, frozen=False), n_batches)
    train = read_prepared(data)[1].query("split == 'train'")
    partners = json.loads((data/'prepare.json').read_text())['partners']
    return [row(f'fine-tune, body unfrozen, {partners} partners', 'pairs/s', rates[True], rates[False],
                f'{n_batches} batches of {bs} pairs from {len(train):,} training pairs')]

def embedding_rows(data, arch, weights, size, n):
    model = learner(data, arch, weights, size, 64, naive=False, frozen=True).model.eval()
    works = read_prepared(data)[0].head(n)
    paths = [data/p for p in works.image]
    loop, _ = timed(lambda: embed_images(model, paths, bs=64))
    ds = WorkImages(paths, size, model.config['stats'])
    batches = [torch.stack([ds[i][0] for i in range(s, min(s + 64, n))]) for s in range(0, n, 64)]
    with torch.no_grad(): raw, _ = timed(lambda: [model.body(x) for x in batches])
    return [row(f'embedding {n} images', 'images/s', n / raw, n / loop, 'naive column: the raw forward pass on batches in memory')]

def machine() -> str:
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU'
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
            f"with {torch.get_num_threads()} threads, device: {device}")

def markdown(df:pd.DataFrame) -> str:
    fmt = lambda v: f'{v:,.2f}' if isinstance(v, float) else str(v)
    lines = ['| ' + ' | '.join(df.columns) + ' |', '|' + '---|' * len(df.columns)]
    return '\n'.join(lines + ['| ' + ' | '.join(fmt(v) for v in r) + ' |' for r in df.itertuples(index=False)])

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--tiny', action='store_true', help="Tiny settings, to check the script works.")
    p.add_argument('--data', type=Path, default=ROOT.parent/'shared/data/artworks')
    p.add_argument('--weights', type=Path, default=ROOT.parent/'shared/weights/squeezenet1_0_imagenet.pth')
    p.add_argument('--artists', type=int, default=40)
    p.add_argument('--partners', type=int, default=36)
    p.add_argument('--out', type=Path, default=ROOT/'benchmarks/results')
    a = p.parse_args()
    tiny = a.tiny
    source = sample_path() if tiny else a.data
    weights = None if tiny or not a.weights.exists() else a.weights
    arch, size = 'squeezenet1_0', 64 if tiny else 224
    tmp = Path(tempfile.mkdtemp())
    rows = all_pairs_rows(*((2_000, 200_000, 64, 32, 20_000) if tiny else (23_817, 21_916_047, 4096, 1584, 200_000)))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    rows[-1]['note'] += f'; peak memory of the process after both (before the training rows): {peak:.1f} GB'
    data = tmp/'prepared'
    prepare(source, data, artists=None if tiny else a.artists, size=72 if tiny else 256, partners=4 if tiny else a.partners,
            eval_neg_ratio=1.75, seed=0)
    kwargs = dict(arch=arch, weights=weights, size=size)
    rows += head_rows(data, bs=32 if tiny else 64, **kwargs)
    rows += fine_tune_rows(data, bs=16 if tiny else 64, n_batches=2 if tiny else 12, **kwargs)
    rows += embedding_rows(data, n=32 if tiny else 512, **kwargs)
    rows += resize_rows(source, tmp, *((4, 600, 72) if tiny else (48, 3000, 256)))
    table = markdown(pd.DataFrame(rows))
    text = f"{table}\n\nMachine: {machine()}. Command: `python benchmarks/speed.py{' --tiny' if tiny else ''}`.\n"
    print(text)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out/('speed_tiny.md' if tiny else 'speed.md')).write_text(text)
    shutil.rmtree(tmp, ignore_errors=True)

if __name__ == '__main__': main()
