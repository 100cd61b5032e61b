"Every command works from the command line on the bundled sample, through the real entry points."
import json, subprocess, sys
from pathlib import Path
import pandas as pd, pytest
from artmatch.cli import main
from conftest import SQUEEZENET

def run(*args, ok=True):
    r = subprocess.run([str(Path(sys.executable).parent/'artmatch'), *map(str, args)], capture_output=True, text=True)
    if ok: assert r.returncode == 0, r.stderr
    return r

def test_help_explains_every_option():
    r = run('--help')
    for cmd in ('prepare', 'train', 'evaluate', 'predict', 'score'): assert cmd in r.stdout
    assert 'embedding' in run('train', '--help').stdout
    prepare_help = run('prepare', '--help').stdout
    for opt in ('--artists', '--min-works', '--max-works', '--styles', '--size', '--partners', '--neg-ratio', '--split-by',
                '--valid-pct', '--test-pct', '--seed'): assert opt in prepare_help
    train_help = run('train', '--help').stdout
    for opt in ('--arch', '--pretrained', '--no-pretrained', '--weights', '--size', '--bs', '--epochs', '--freeze-epochs',
                '--lr', '--out', '--seed'): assert opt in train_help
    assert '--out' in run('score', '--help').stdout

def test_python_dash_m():
    r = subprocess.run([sys.executable, '-m', 'artmatch', 'train', '--help'], capture_output=True, text=True)
    assert r.returncode == 0 and '--freeze-epochs' in r.stdout

def test_errors_are_one_line_with_exit_code(tmp_path):
    r = run('prepare', tmp_path/'nowhere', tmp_path/'out', ok=False)
    assert r.returncode == 1 and r.stderr.strip().startswith('artmatch: error:') and 'Traceback' not in r.stderr

def cli(*args): main([str(a) for a in args])

@pytest.mark.parametrize('approach, start', [('siamese', 'imagenet'), ('classifier', 'imagenet'), ('embedding', 'imagenet'),
                                             ('siamese', 'scratch')])
def test_train_evaluate_predict_score(approach, start, prepared, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if start == 'imagenet' and not SQUEEZENET.exists(): pytest.skip('../shared/weights is not here')
    weights = ['--arch', 'squeezenet1_0'] + (['--weights', SQUEEZENET] if start == 'imagenet' else ['--no-pretrained'])
    out = Path('run')                                     # relative, as users type it
    epochs = ['--freeze-epochs', '10'] if start == 'imagenet' else ['--epochs', '1']   # head stage only, or all from scratch
    cli('train', approach, prepared, *weights, '--size', '64', '--bs', '32', *epochs, '--lr', 'auto', '--out', out, '--workers', '0')
    printed = capsys.readouterr().out
    assert 'roc_auc' in printed
    assert not (tmp_path/'models').exists()               # lr_find's temporary weights stay in the run folder
    assert {'model.safetensors', 'config.json', 'metrics.json', 'history.csv', 'lr_find.png', 'MODEL_CARD.md'} <= {p.name for p in out.iterdir()}
    cli('evaluate', out)
    metrics = json.loads((out/'eval/metrics.json').read_text())
    methods = {'siamese': ['siamese'], 'classifier': ['softmax_dot', 'argmax', 'cosine'], 'embedding': ['cosine']}[approach]
    assert list(metrics) == methods
    if start == 'imagenet': assert metrics[methods[0]]['roc_auc'] > 0.6, metrics     # real features: clearly above chance
    assert all((out/'eval'/f'curves_{m}.png').exists() for m in methods)
    works = pd.read_csv(prepared/'works.csv')
    cli('predict', out, prepared/works.image[0], prepared/works.image[1])
    assert 'score' in capsys.readouterr().out
    test = works[works.split == 'test'].image.tolist()[:6]
    pd.DataFrame({'index': range(3), 'image1': test[:3], 'image2': test[3:]}).to_csv(tmp_path/'submission_info.csv', index=False)
    cli('score', out, tmp_path/'submission_info.csv', '--images', prepared, '--out', tmp_path/'scores.csv')
    sub = pd.read_csv(tmp_path/'scores_submission.csv')
    assert list(sub.columns) == ['index', 'sameArtist'] and len(sub) == 3 and sub.sameArtist.between(-1, 1).all()
    folder = next((prepared/'images').iterdir())
    cli('score', out, '--images', folder, '--out', tmp_path/'all.csv')
    n = len(list(folder.glob('*.jpg')))
    assert f'scored {n * (n - 1) // 2} pairs' in capsys.readouterr().out
