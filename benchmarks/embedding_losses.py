"""Which metric-learning loss, head and test-time augmentation for the embedding approach: measured on frozen features.

    python benchmarks/embedding_losses.py                 # ../shared's WikiArt works, EfficientNet-Lite2: about 25 minutes on 2 CPU cores

Computes, once, frozen EfficientNet-Lite2 features of every shared work (224-pixel centre crops of the 224-pixel images, and
their mirror images): the mean and spread of each of its 7 stages' outputs and its final pooled features. Splits the works
by work within each artist (70/15/15, seed 0) and by artist, then trains embedding heads on the training works with
pytorch-metric-learning losses (4 works per artist per batch, AdamW, one cycle) and keeps each head's best epoch by
validation pair ROC AUC (cosine over every pair of works). Prints validation and test pair AUC for each loss, on a linear
head and on the hidden-layer head `EmbeddingModel` uses, and for the hidden head with random mirroring in training and
mirror-averaged embeddings at test time. This is the script the notebooks' loss choice quotes; it does not use artmatch's
training loop, so that every variant runs on exactly the same features.
"""
import argparse, time
from pathlib import Path
import numpy as np, pandas as pd, torch, timm
import torch.nn as nn, torch.nn.functional as F
from PIL import Image
from sklearn.metrics import roc_auc_score
from pytorch_metric_learning import losses, samplers

ROOT = Path(__file__).resolve().parents[1]

def features(root:Path, files, weights:Path, flip:bool) -> torch.Tensor:
    "Per-stage mean and spread, then the final pooled features, of each image (or its mirror image)."
    m = timm.create_model('tf_efficientnet_lite2')
    m.load_state_dict(torch.load(weights, weights_only=True)); m.eval()
    def load(p):
        im = Image.open(root/p).convert('RGB')
        w, h = im.size; s = 224 / min(w, h)
        if s != 1: im = im.resize((round(w * s), round(h * s)), Image.BILINEAR)
        w, h = im.size; l, t = (w - 224) // 2, (h - 224) // 2
        x = torch.from_numpy(np.array(im.crop((l, t, l + 224, t + 224)))).permute(2, 0, 1).float() / 255
        return ((x.flip(-1) if flip else x) - 0.5) / 0.5
    out = []
    with torch.no_grad():
        for s in range(0, len(files), 32):
            h = m.bn1(m.conv_stem(torch.stack([load(p) for p in files[s:s + 32]])))
            stats = []
            for block in m.blocks:
                h = block(h)
                stats += [h.mean((2, 3)), h.std((2, 3))]
            out.append(torch.cat(stats + [m.bn2(m.conv_head(h)).mean((2, 3))], 1))
    return torch.cat(out)

def split(df, by:str, seed:int=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    def labels(n): return np.array(['test'] * round(n * .15) + ['valid'] * round(n * .15) + ['train'] * (n - 2 * round(n * .15)))
    if by == 'artist':
        artists = sorted(df.artist.unique())
        return df.artist.map(dict(zip(artists, labels(len(artists))[rng.permutation(len(artists))]))).values
    s = np.array(['train'] * len(df), dtype=object)
    for _, idx in df.groupby('artist').groups.items():
        idx = np.array(idx); s[idx] = labels(len(idx))[rng.permutation(len(idx))]
    return s

def pair_auc(e, y) -> float:
    e = F.normalize(e, dim=1); i, j = torch.triu_indices(len(y), len(y), 1)
    return roc_auc_score((y[i] == y[j]).numpy(), (e @ e.T)[i, j].numpy())

LOSSES = {'multi-similarity': lambda n, d: losses.MultiSimilarityLoss(), 'supervised contrastive': lambda n, d: losses.SupConLoss(temperature=0.1),
          'normalised softmax': lambda n, d: losses.NormalizedSoftmaxLoss(n, d, temperature=0.05),
          'ArcFace': lambda n, d: losses.ArcFaceLoss(n, d, margin=28.6, scale=64), 'cross-entropy': None}

def train_head(x, y, tr, va, loss:str, hidden:bool, mirror:bool, dim:int=512, bs:int=128, lr:float=1e-3):
    "The head's best epoch by validation pair AUC (of 60 epochs, 40 for a linear head): (embed function, validation AUC, epoch)."
    epochs = 60 if hidden else 40
    n, d = int(y.max()) + 1, x.shape[2]
    head = nn.Sequential(nn.BatchNorm1d(d), nn.Dropout(0.2), *([nn.Linear(d, 1024), nn.ReLU(), nn.BatchNorm1d(1024), nn.Linear(1024, dim)]
                                                                if hidden else [nn.Linear(d, dim)]))
    lf = LOSSES[loss](n, dim) if LOSSES[loss] else None
    cls = nn.Linear(dim, n) if lf is None else None
    params = list(head.parameters()) + list((lf if lf is not None else cls).parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    xt, yt = x[tr], y[tr]
    sampler = samplers.MPerClassSampler(yt.numpy(), 4, length_before_new_iter=len(yt))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=epochs * (len(yt) // bs))
    def embed(ix):
        with torch.no_grad(): return (head(x[ix][:, 0]) + head(x[ix][:, 1])) / 2 if mirror else head(x[ix][:, 0])
    best = (0, None, 0)
    for ep in range(epochs):
        head.train(); idx = torch.tensor(list(iter(sampler)))
        for b in range(len(idx) // bs):
            k = idx[b * bs:(b + 1) * bs]
            view = torch.randint(2, (len(k),)) if mirror else torch.zeros(len(k), dtype=torch.long)
            e = head(xt[k, view])
            l = lf(e, yt[k]) if lf is not None else F.cross_entropy(cls(e), yt[k])
            opt.zero_grad(); l.backward(); opt.step(); sched.step()
        head.eval(); auc = pair_auc(embed(va), y[va])
        if auc > best[0]: best = (auc, {k: v.clone() for k, v in head.state_dict().items()}, ep)
    head.load_state_dict(best[1]); head.eval()
    return embed, best[0], best[2]

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data', type=Path, default=ROOT.parent/'shared/data/artworks')
    p.add_argument('--weights', type=Path, default=ROOT.parent/'shared/weights/efficientnet_lite2_imagenet.pth')
    a = p.parse_args()
    torch.manual_seed(0); torch.set_num_threads(2)
    df = pd.read_csv(a.data/'labels.csv')
    y = torch.tensor(pd.factorize(df.artist)[0])
    start = time.time()
    x = torch.stack([features(a.data, list(df.filename), a.weights, flip) for flip in (False, True)], 1)
    print(f'features of {len(df)} works and their mirror images: {(time.time() - start) / 60:.1f} min', flush=True)
    for by in ('work', 'artist'):
        s = split(df, by); tr, va, te = (torch.tensor(s == k) for k in ('train', 'valid', 'test'))
        xs = (x - x[tr][:, 0].mean(0)) / (x[tr][:, 0].std(0) + 1e-6)
        variants = [(loss, False, False) for loss in LOSSES] if by == 'work' else []
        variants += [('multi-similarity', True, False), ('supervised contrastive', True, False), ('multi-similarity', True, True)]
        for loss, hidden, mirror in variants:
            embed, va_auc, ep = train_head(xs, y, tr, va, loss, hidden, mirror)
            print(f"{by} split, {loss}, {'hidden-layer' if hidden else 'linear'} head{', mirrored' if mirror else ''}: "
                  f"valid {va_auc:.3f}, test {pair_auc(embed(te), y[te]):.3f} (best epoch {ep + 1})", flush=True)

if __name__ == '__main__': main()
