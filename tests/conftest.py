import hashlib, io, warnings
from contextlib import redirect_stdout
from pathlib import Path
import pytest
import matplotlib
matplotlib.use('Agg')
warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated')
from artmatch.data import sample_path
from artmatch.pairs import prepare
from artmatch.train import train
from artmatch.cli import main

SHARED = Path(__file__).resolve().parents[1].parent/'shared'
needs_shared = pytest.mark.skipif(not (SHARED/'data/artworks/labels.csv').exists(), reason='../shared is not here')
SQUEEZENET = SHARED/'weights/squeezenet1_0_imagenet.pth'
APPROACHES = ['siamese', 'classifier', 'embedding']

def tree_hashes(folder:Path) -> dict:
    "Path -> sha256 of every file below `folder`, to show nothing there changed."
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(folder).rglob('*')) if p.is_file()}

def prepared_sample(tmp_path_factory, name:str, size:int, partners:int) -> Path:
    "The bundled sample prepared into a new temporary folder."
    out = tmp_path_factory.mktemp(name)/'sample'
    prepare(sample_path(), out, size=size, partners=partners)
    return out

@pytest.fixture(scope='session')
def prepared(tmp_path_factory) -> Path:
    "The bundled sample, prepared small: 72 px, 12 partners."
    return prepared_sample(tmp_path_factory, 'prepared', 72, 12)

@pytest.fixture(scope='session')
def few_pairs(tmp_path_factory) -> Path:
    "The bundled sample at 48 px with 2 partners a work: epochs of seconds, for runs that are stopped, resumed or trained from scratch."
    return prepared_sample(tmp_path_factory, 'few', 48, 2)

def tiny_train(approach, data, out, **kwargs):
    "A one-epoch run on 64 px crops of a small backbone."
    kw = dict(arch='squeezenet1_0', pretrained=False, size=64, bs=32, epochs=1, freeze_epochs=0, lr=1e-3, num_workers=0)
    return train(approach, data, out, **{**kw, **kwargs})

@pytest.fixture(scope='session')
def siamese_run(prepared, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('runs')/'siamese'
    tiny_train('siamese', prepared, out)
    return out

@pytest.fixture(scope='session')
def classifier_run(prepared, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('runs')/'classifier'
    tiny_train('classifier', prepared, out)
    return out

@pytest.fixture(scope='session')
def imagenet_runs(prepared, tmp_path_factory) -> dict:
    "approach -> (run folder, what `artmatch train` printed): each approach trained through the command line with its defaults from ImageNet SqueezeNet, 64-pixel crops of the sample. Shared by the CLI, learning and attribution tests."
    if not SQUEEZENET.exists(): pytest.skip('../shared/weights is not here')
    runs = {}
    for approach in APPROACHES:
        out = tmp_path_factory.mktemp('imagenet')/approach
        with redirect_stdout(io.StringIO()) as printed:
            main(['train', approach, str(prepared), '--arch', 'squeezenet1_0', '--weights', str(SQUEEZENET), '--size', '64', '--bs', '32',
                  '--workers', '0', '--out', str(out)])
        runs[approach] = out, printed.getvalue()
    return runs
