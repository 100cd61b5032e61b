"The fast paths compute what the naive ones do, the naive path stays available, and the speed benchmark runs."
import shutil, subprocess, sys
from pathlib import Path
import pandas as pd, pytest, torch
from artmatch.models import create_backbone, PairHead, SiameseModel
from artmatch.loaders import pair_dls
from conftest import SQUEEZENET, tiny_train

ROOT = Path(__file__).resolve().parents[1]

def grads(model, *inputs, target):
    "Gradients of the loss on `inputs` for every parameter, with the same random dropout masks each time."
    model.zero_grad()
    torch.manual_seed(0)
    torch.nn.functional.binary_cross_entropy_with_logits(model(*inputs), target).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

def test_deduplicated_gradients_equal_naive(prepared):
    "A batch of distinct images with pair indices gives the gradients of the same pairs fed one image per side."
    torch.manual_seed(0)
    bb = create_backbone('squeezenet1_0', pretrained=False)        # style features: batch statistics of every stage
    model = SiameseModel(bb.body, PairHead(bb.n_features)).train()
    x, ia, ib, y = pair_dls(prepared, size=48, bs=16, num_workers=0).train.one_batch()
    assert len(x) < 2 * len(ia)                      # the batch really shares images
    dedup = grads(model, x, ia, ib, target=y)
    naive = grads(model, (x[ia], x[ib]), target=y)
    assert dedup.keys() == naive.keys() and len(dedup) == len(list(model.parameters()))
    for name in dedup: torch.testing.assert_close(dedup[name], naive[name], rtol=1e-4, atol=1e-6, msg=name)

@pytest.mark.skipif(not SQUEEZENET.exists(), reason='../shared/weights is not here')
def test_naive_training_stays_available(prepared, tmp_path):
    "`naive=True` trains the frozen stage on images, without a feature cache, through the same recipe."
    shutil.rmtree(prepared/'features', ignore_errors=True)
    tiny_train('siamese', prepared, tmp_path/'naive', weights=SQUEEZENET, freeze_epochs=1, naive=True)
    history = pd.read_csv(tmp_path/'naive/history.csv')
    assert len(history) == 2 and 'roc_auc' in history.columns
    assert not list((prepared/'features').glob('*'))

def test_speed_benchmark_runs_tiny(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT/'benchmarks/speed.py'), '--tiny', '--out', str(tmp_path)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    table = (tmp_path/'speed_tiny.md').read_text()
    for item in ('head stage', 'fine-tune', 'all-pairs, concat head', 'softmax-dot', 'embedding', 'resize', 'Machine:'):
        assert item in table

def test_scale_benchmark_runs_quick(tmp_path):
    "`benchmarks/scale.py --quick`: textures, prepare, index and search on tiny sizes, so that the script cannot rot."
    r = subprocess.run([sys.executable, str(ROOT/'benchmarks/scale.py'), '--quick', '--out', str(tmp_path)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    table = (tmp_path/'scale.md').read_text()
    for item in ('### prepare', '| 200 | 100 | SqueezeNet, 64 px |', '| 2,000 | exact |', 'Machine:'): assert item in table
    assert len(list((tmp_path/'textures/images').rglob('*.jpg'))) == 200
