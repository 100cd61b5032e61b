"""Two CPU processes (gloo) train together under `torchrun`: same weights, one writer, metrics over every validation pair."""
import json, os, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, pytest
pytest.importorskip('accelerate')

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(__file__).parent/'distributed_script.py'
sys.path.insert(0, str(SCRIPT.parent))
from distributed_script import N_VALID

@pytest.fixture(scope='module')
def two_ranks(tmp_path_factory):
    "The run folder of `distributed_script.py` in 2 processes, and what each rank wrote about itself."
    out = tmp_path_factory.mktemp('distributed')
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'CUDA_VISIBLE_DEVICES': '',
           'PYTHONPATH': os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')])}
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', str(SCRIPT), str(out)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    return out, [json.loads((out/f'rank{r}.json').read_text()) for r in range(2)]

def test_ranks_train_together(two_ranks):
    _, ranks = two_ranks
    assert [r['world_size'] for r in ranks] == [2, 2]
    assert ranks[0]['weights'] == ranks[1]['weights']
    assert ranks[0]['values'] == ranks[1]['values']
    assert [r['train_batches'] for r in ranks] == [2, 2]  # 64 training pairs in batches of 16: 4 batches, 2 in each rank

def test_rank0_prepares_and_shares(two_ranks):
    _, ranks = two_ranks
    assert [r['prepared_by'] for r in ranks] == [0, 0]
    assert [r['cache'] for r in ranks] == ['computed', 'read']
    assert ranks[0]['lr'] == ranks[1]['lr']

def test_only_rank0_writes(two_ranks):
    out, ranks = two_ranks
    assert (out/'model-rank0'/'model.safetensors').exists() and (out/'model-rank0'/'config.json').exists()
    assert not (out/'model-rank1').exists()
    # one full row per fit of fine_tune (frozen, then unfrozen): no rank but 0 wrote the log
    n_fields = len(ranks[0]['metric_names'])
    rows = [l for l in (out/'history.csv').read_text().splitlines() if not l.startswith('epoch') and len(l.split(',')) == n_fields]
    assert len(rows) == 2

def test_metrics_cover_every_validation_pair(two_ranks):
    _, ranks = two_ranks
    names, values, alone = ranks[0]['metric_names'], ranks[0]['values'][-1], ranks[0]['alone']
    metrics = dict(zip(names[1:-1], values))
    assert metrics['n_items'] == N_VALID
    # rank 0 alone, validating every pair with the final weights, finds the same ROC AUC and average precision
    assert metrics['roc_auc'] == pytest.approx(alone[1], abs=1e-6)
    assert metrics['average_precision'] == pytest.approx(alone[2], abs=1e-6)

def test_artmatch_train_under_torchrun(prepared, tmp_path):
    "`artmatch train` itself in 2 processes: cached features computed once, one model folder, one log, printed once."
    from conftest import SQUEEZENET
    import shutil
    data = tmp_path/'data'
    shutil.copytree(prepared, data, ignore=shutil.ignore_patterns('features'))
    start = ['--weights', str(SQUEEZENET)] if SQUEEZENET.exists() else ['--no-pretrained']
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'CUDA_VISIBLE_DEVICES': ''}
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', '-m', 'artmatch', 'train',
           'siamese', str(data), '--arch', 'squeezenet1_0', *start, '--size', '48', '--bs', '16', '--epochs', '1',
           '--freeze-epochs', '1', '--lr', '1e-3', '--workers', '0', '--out', str(tmp_path/'run')]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert res.stdout.count('saved ') == 1
    assert (tmp_path/'run/model.safetensors').exists() and not (tmp_path/'run/checkpoint.pt').exists()
    history = pd.read_csv(tmp_path/'run/history.csv')
    assert len(history) == (2 if SQUEEZENET.exists() else 1)
    if SQUEEZENET.exists(): assert len(list((data/'features').glob('features-*'))) == 1

def _artmatch(args, processes:int, cwd:Path, rc:int=0) -> subprocess.CompletedProcess:
    "`artmatch ARGS` in `processes` CPU processes under torchrun (1: a plain process), checked to exit with `rc`."
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'CUDA_VISIBLE_DEVICES': ''}
    launch = (['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', str(processes)] if processes > 1 else [])
    res = subprocess.run([sys.executable, *launch, '-m', 'artmatch', *map(str, args)], env=env, cwd=cwd,
                         capture_output=True, text=True, timeout=600)
    assert (res.returncode != 0) == (rc != 0), res.stdout[-3000:] + res.stderr[-3000:]
    return res

def test_index_and_score_in_two_processes(tmp_path):
    """`artmatch index` and `artmatch score` in 2 CPU processes: the chunks shared, the same vectors and scores as one
    process, one index and one scores file, printed once; a killed index run, run again, embeds only what was left."""
    import shutil, torch
    from artmatch.data import sample_path
    from artmatch.models import build_model
    from artmatch.export import save_model
    from artmatch.index import load_index
    from artmatch.scoring import chunk_files
    torch.manual_seed(0)
    model = build_model('embedding', 'squeezenet1_0', pretrained=False)
    model.config['size'] = 32
    run = save_model(model.eval(), tmp_path/'run')
    collection = tmp_path/'collection'
    for folder in sorted((sample_path()/'images').iterdir())[:3]:
        (collection/folder.name).mkdir(parents=True)
        for f in sorted(folder.iterdir())[:6]: shutil.copy(f, collection/folder.name)
    (collection/folder.name/'corrupt.jpg').write_bytes(b'not a picture')
    images = sorted(str(p.relative_to(collection)) for p in collection.rglob('*.jpg'))
    pd.DataFrame({'image1': images[:-1], 'image2': images[1:]}).to_csv(tmp_path/'pairs.csv', index=False)
    for n in (1, 2):
        res = _artmatch(['index', run, collection, '--out', f'index{n}', '--chunk', 4], n, tmp_path)
        assert res.stdout.count('indexed 18 works by 3 artists') == 1 and '1 skipped' in res.stdout
        res = _artmatch(['score', run, 'pairs.csv', '--images', collection, '--out', f'scores{n}.csv', '--chunk', 4],
                        n, tmp_path)
        assert res.stdout.count('scored 17 pairs') == 1        # the corrupt image is in 1 pair
    from safetensors import safe_open
    writers = []
    for f in chunk_files(tmp_path/'index2/vectors'):
        with safe_open(str(f), 'pt') as chunk: writers.append(chunk.metadata()['rank'])
    assert writers == ['0', '1', '0', '1', '0']                       # 18 works, 4 a chunk, taken in turn
    one, two = (load_index(tmp_path/f'index{n}', run) for n in (1, 2))
    assert list(one.works.image) == list(two.works.image)
    assert torch.allclose(one.vectors.embeddings, two.vectors.embeddings, atol=1e-6)
    s1, s2 = (pd.read_csv(tmp_path/f'scores{n}.csv') for n in (1, 2))
    assert s1[['image1', 'image2']].equals(s2[['image1', 'image2']]) and s1.score.isna().sum() == 1
    assert np.allclose(s1.score, s2.score, atol=1e-6, equal_nan=True)
    assert not list(tmp_path.glob('.scores*.vectors'))                # the work folders are gone once written
    # as a kill leaves it: some chunks written, no works.csv
    lost = 0
    for f in chunk_files(tmp_path/'index2/vectors')[1::2]:
        with safe_open(str(f), 'pt') as chunk: lost += len(json.loads(chunk.metadata()['stamps']))
        f.unlink()
    (tmp_path/'index2/works.csv').unlink()
    res = _artmatch(['index', run, collection, '--out', 'index2', '--chunk', 4], 2, tmp_path)
    assert f'({lost} embedded now)' in res.stdout and lost >= 7
    # a mistake found by rank 0 stops both processes, said once
    res = _artmatch(['index', run, collection, '--out', collection], 2, tmp_path, rc=1)
    assert res.stderr.count('not empty and not an artmatch index') == 1
    again = load_index(tmp_path/'index2', run)
    assert list(again.works.image) == list(one.works.image)
    assert torch.allclose(again.vectors.embeddings, one.vectors.embeddings, atol=1e-6)
