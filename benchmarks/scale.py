"""artmatch at scale on this machine: a synthetic collection of up to 100,000 works, prepared, indexed, searched and scored.

    python benchmarks/scale.py                      # every stage, into /tmp/scale (resumes: finished rows are kept)
    python benchmarks/scale.py --stages textures,prepare --works 20000
    python benchmarks/scale.py --quick              # a tiny run that checks the script (a test runs it)

Stages, each a row or rows of the table (OUT/scale.md), each kept in OUT/results.json once done:

- textures: N synthetic 256-pixel JPEG textures (oriented gratings in an artist's palette and scale of marks, with
  noise), deterministic from their number, 50 works per artist, with `labels.csv`; made by a process per core;
- prepare: `artmatch prepare` on them, in a process of its own: images per second and that process's peak memory;
- index: `artmatch index` of the first 10,000 textures, then of the first 50,000 and 100,000 (each run grows the last
  one's index, embedding only the new works), each in a process of its own, with a small body (ImageNet SqueezeNet at
  64 px) so that the rows show how time and memory grow; one row of the real body, EfficientNet-Lite2 at 224 px, on the
  first `--lite2-works` textures gives its rate per 10,000 works;
- search: against 100,000 and 1,000,000 indexed vectors (synthetic unit vectors of Lite2's 598 numbers, 50 works per
  artist, two works of one artist at a cosine of about 0.65): building the search, the 10 nearest works of one query
  (what `nearest_works` does once the image is embedded) and `rank_artists` (5 artists by prototype, each with its
  nearest work), medians of 20 queries, the one-off `none_threshold`, and the process's memory; exact, and for the
  million the IVF index too, with its recall of the exact 10 nearest;
- score: `artmatch score` on Kaggle's 21,916,047 pairs (`score_speed.py`) over 1,000 textures, with the small body.

Peak memory is that of the largest process (`artmatch` or one of its workers). Run on a machine with a GPU, the index
rows give its images per second (the machine line names the GPU).
"""
import argparse, json, os, platform, shutil, subprocess, sys, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
import numpy as np, pandas as pd, torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent/'shared'
WORKS_PER_ARTIST = 50
SIZE = 256
NOISE = 0.03      # per number, around an artist's unit centre: two works by one artist have a cosine of about 0.65

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


def artmatch(*args) -> tuple[float, float]:
    "Run `artmatch ARGS` in a process of its own; its seconds and peak memory (GB)."
    start = time.perf_counter()
    child = subprocess.Popen([str(Path(sys.executable).parent/'artmatch'), *map(str, args)], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    if status: raise SystemExit(f"artmatch {' '.join(map(str, args))} failed ({status})")
    return time.perf_counter() - start, usage.ru_maxrss / 2**20

def body_model(out:Path, arch:str, size:int, weights) -> Path:
    "An embedding model folder over ImageNet `arch` at `size` px (its head untrained: speed, not accuracy)."
    from artmatch.models import build_model
    from artmatch.export import save_model
    if not (out/'model.safetensors').exists():
        torch.manual_seed(0)
        model = build_model('embedding', arch, weights=weights)
        model.config['size'] = size
        save_model(model.eval(), out)
    return out

def collection_csv(out:Path, n:int) -> Path:
    "The first `n` textures as a collection CSV beside them."
    labels = pd.read_csv(out/'textures'/'labels.csv').head(n)
    labels.to_csv(out/'textures'/f'collection-{n}.csv', index=False)
    return out/'textures'/f'collection-{n}.csv'

def index_row(out:Path, model:Path, body:str, n:int, new:bool) -> dict:
    """`artmatch index` of the first `n` textures into the model's index (a `new` one, or the last row's, which it
    grows): the works embedded, time and peak memory."""
    index = out/f'index-{model.name}'
    if new: shutil.rmtree(index, ignore_errors=True)
    before = len(pd.read_csv(index/'works.csv')) if (index/'works.csv').exists() else 0
    seconds, peak = artmatch('index', model, collection_csv(out, n), '--out', index)
    return dict(works=n, embedded=n - before, body=body, seconds=seconds, peak_gb=peak)

def synthetic_index(model, n:int, width:int=598, per_artist:int=WORKS_PER_ARTIST):
    "A `WorkIndex` of `n` synthetic unit vectors, `per_artist` near each artist's centre, and 20 queries like them."
    from artmatch.scoring import Embeddings
    from artmatch.index import WorkIndex
    g = torch.Generator().manual_seed(0)
    artists = torch.arange(n) // per_artist
    centres = torch.nn.functional.normalize(torch.randn(int(artists[-1]) + 1, width, generator=g), dim=1)
    vectors = torch.empty(n, width)
    for s in range(0, n, 100_000):                     # in slices: no second copy of a million vectors
        v = centres[artists[s:s + 100_000]] + NOISE * torch.randn(len(artists[s:s + 100_000]), width, generator=g)
        vectors[s:s + 100_000] = torch.nn.functional.normalize(v, dim=1)
    works = pd.DataFrame({'image': [f'w{i}.jpg' for i in range(n)], 'artist': [f'artist {a:05d}' for a in artists.tolist()]})
    queries = torch.nn.functional.normalize(centres[:20] + NOISE * torch.randn(20, width, generator=g), dim=1)
    return (WorkIndex(works, Embeddings(works.image, None, None, {}, vectors), {}),
            Embeddings([f'q{i}.jpg' for i in range(20)], None, None, {}, queries))

def search_rows(model_dir:Path, n:int) -> list[dict]:
    "Nearest works and attribution of one query at a time against `n` synthetic indexed vectors: exact, and IVF at a million."
    from artmatch.export import load_model
    from artmatch import index as I, attribute as A
    model = load_model(model_dir)
    index, queries = synthetic_index(model, n)
    rows, exact_found = [], None
    for kind in (['exact', 'IVF'] if n >= 1_000_000 else ['exact']):
        I.EXACT_SEARCH = n if kind == 'exact' else n - 1
        index.searches.clear()
        start = time.perf_counter()
        index.search(model, 'cosine')
        build = time.perf_counter() - start
        times, found = [], []
        for q in range(20):
            start = time.perf_counter()
            found.append(A._nearest(model, index, queries.take([q]), 'cosine', 10)[1])
            times.append(time.perf_counter() - start)
        attribute_times = []
        for q in range(20):
            start = time.perf_counter()
            A.rank_artists(model, index, queries.take([q]), top=5, threshold=0.5)
            attribute_times.append(time.perf_counter() - start)
        found = torch.cat(found)
        exact_found = found if kind == 'exact' else exact_found
        start = time.perf_counter()
        if kind == 'exact': A.none_threshold(model, index)       # once per index: its works held out, one per artist
        threshold = time.perf_counter() - start if kind == 'exact' else None
        recall = np.mean([len(set(a.tolist()) & set(b.tolist())) / 10 for a, b in zip(found, exact_found)])
        rows.append(dict(vectors=n, search=kind, build_s=build, nearest_ms=1000 * np.median(times),
                         attribute_ms=1000 * np.median(attribute_times), threshold_s=threshold, recall_at_10=recall,
                         vectors_gb=n * 598 * 4 / 2**30, rss_gb=rss_gb()))
    return rows

def rss_gb() -> float: return int(Path('/proc/self/statm').read_text().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**30

def markdown(rows:list[dict]) -> str:
    fmt = lambda v: (f'{v:,.3f}' if isinstance(v, float) else f'{v:,}' if isinstance(v, int) else
                     '' if v is None else str(v))
    head = list(rows[0])
    return '\n'.join(['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
                     + ['| ' + ' | '.join(fmt(r.get(k, '')) for k in head) + ' |' for r in rows])

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', type=Path, default=Path('/tmp/scale'))
    p.add_argument('--works', type=int, default=100_000, help="Textures to make and prepare.")
    p.add_argument('--index-sizes', default='10000,50000,100000', help="Collection sizes indexed with the small body.")
    p.add_argument('--lite2-works', type=int, default=10_000, help="Works indexed with EfficientNet-Lite2 at 224 px.")
    p.add_argument('--search-sizes', default='100000,1000000', help="Synthetic indexed vectors searched.")
    p.add_argument('--stages', default='textures,prepare,index,lite2,search,score')
    p.add_argument('--quick', action='store_true', help="Tiny sizes, to check the script.")
    a = p.parse_args()
    if a.quick: a.works, a.index_sizes, a.lite2_works, a.search_sizes = 200, '100,200', 0, '2000'
    a.out.mkdir(parents=True, exist_ok=True)
    path = a.out/'results.json'
    results = json.loads(path.read_text()) if path.exists() else {}
    def keep(key, value):
        results[key] = value
        path.write_text(json.dumps(results, indent=1))
        print(key, value, flush=True)
    stages = a.stages.split(',')
    squeezenet = SHARED/'weights/squeezenet1_0_imagenet.pth'
    small = body_model(a.out/'squeezenet-64', 'squeezenet1_0', 64, squeezenet if squeezenet.exists() else None)
    if 'textures' in stages and f'textures-{a.works}' not in results:
        keep(f'textures-{a.works}', make_textures(a.out/'textures', a.works))
    if 'prepare' in stages and f'prepare-{a.works}' not in results:
        shutil.rmtree(a.out/'prepared', ignore_errors=True)
        seconds, peak = artmatch('prepare', collection_csv(a.out, a.works), a.out/'prepared')
        keep(f'prepare-{a.works}', dict(works=a.works, seconds=seconds, images_per_s=a.works / seconds, peak_gb=peak))
    if 'index' in stages:
        for k, n in enumerate(map(int, a.index_sizes.split(','))):      # each size grows the last one's index
            if f'index-small-{n}' not in results:
                keep(f'index-small-{n}', index_row(a.out, small, 'SqueezeNet, 64 px', n, new=k == 0))
    if 'lite2' in stages and a.lite2_works and f'index-lite2-{a.lite2_works}' not in results:
        lite2 = body_model(a.out/'lite2-224', 'tf_efficientnet_lite2', 224, None)
        keep(f'index-lite2-{a.lite2_works}', index_row(a.out, lite2, 'EfficientNet-Lite2, 224 px', a.lite2_works, True))
    if 'search' in stages:
        for n in map(int, a.search_sizes.split(',')):
            if f'search-{n}' not in results: keep(f'search-{n}', search_rows(small, n))
    if 'score' in stages and not a.quick and 'score' not in results:
        res = subprocess.run([sys.executable, str(ROOT/'benchmarks/score_speed.py'), str(small),
                              str(a.out/'textures'/'images'), '--tmp', str(a.out/'score')],
                             capture_output=True, text=True, check=True)
        keep('score', res.stdout)
    index_rows = [v for k, v in results.items() if k.startswith('index-')]
    for r in index_rows:
        r.update(images_per_s=r['embedded'] / r['seconds'], s_per_10000=r['seconds'] / r['embedded'] * 10_000)
    tables = [('textures', [v for k, v in results.items() if k.startswith('textures-')]),
              ('prepare', [v for k, v in results.items() if k.startswith('prepare-')]),
              ('index', index_rows),
              ('search', [r for k, v in results.items() if k.startswith('search-') for r in v])]
    text = '\n\n'.join(f'### {name}\n\n' + markdown(rows) for name, rows in tables if rows)
    if 'score' in results:         # score_speed.py's table, without its progress bars
        text += '\n\n### score\n\n' + '\n'.join(l for l in results['score'].splitlines() if l.startswith('|'))
    text += (f"\n\nMachine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
             f"({torch.get_num_threads()} threads), {'GPU ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU'}")
    (a.out/'scale.md').write_text(text + '\n')
    print(text)

if __name__ == '__main__': main()
