"Every command works from the command line on the bundled sample, through the real entry points."
import json, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, pytest
from artmatch.cli import main
from artmatch.export import load_model
from artmatch.predict import predict_pair, describe_pair
from artmatch.evaluate import evaluate_model
from artmatch.scoring import score_pairs, p_same
from conftest import APPROACHES

def run(*args, ok=True):
    r = subprocess.run([str(Path(sys.executable).parent/'artmatch'), *map(str, args)], capture_output=True, text=True)
    if ok: assert r.returncode == 0, r.stderr
    return r

def test_help_explains_every_option():
    r = run('--help')
    for cmd in ('prepare', 'train', 'evaluate', 'predict', 'score', 'index', 'attribute', 'app'): assert cmd in r.stdout
    assert 'embedding' in run('train', '--help').stdout
    prepare_help = run('prepare', '--help').stdout
    for opt in ('--artists', '--min-works', '--max-works', '--styles', '--size', '--partners', '--neg-ratio', '--split-by',
                '--valid-pct', '--test-pct', '--seed'): assert opt in prepare_help
    train_help = run('train', '--help').stdout
    for opt in ('--arch', '--pretrained', '--no-pretrained', '--weights', '--size', '--bs', '--epochs', '--freeze-epochs',
                '--lr', '--out', '--seed'): assert opt in train_help
    assert '--out' in run('score', '--help').stdout

def test_help_loads_no_library():
    "`artmatch --help` and usage errors answer at once: the command line module imports neither torch nor fastai nor pandas."
    code = "import sys, artmatch.cli; print(sorted(m for m in ('torch', 'fastai', 'pandas') if m in sys.modules))"
    assert subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.strip() == '[]'

def test_argument_errors_load_no_library():
    "A wrong option or RUN is told, exit code 1, before torch and fastai load: it answers at once."
    code = ("import sys\nfrom artmatch.cli import main\n"
            "for args in (['train', 'embedding', '--size', '4'], ['train'], ['evaluate', 'nowhere'], ['score', 'nowhere', '--out', 'x.csv'], ['app', 'nowhere']):\n"
            "    try: main(args)\n    except SystemExit as e: assert e.code == 1, args\n"
            "print(sorted(m for m in ('torch', 'fastai') if m in sys.modules))")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == '[]', r.stderr

def test_python_dash_m():
    r = subprocess.run([sys.executable, '-m', 'artmatch', 'train', '--help'], capture_output=True, text=True)
    assert r.returncode == 0 and '--freeze-epochs' in r.stdout

def test_errors_are_one_line_with_exit_code(tmp_path):
    r = run('prepare', tmp_path/'nowhere', tmp_path/'out', ok=False)
    assert r.returncode == 1 and r.stderr.strip().startswith('artmatch: error:') and 'Traceback' not in r.stderr

def cli(*args): main([str(a) for a in args])

def test_train_from_scratch_with_a_relative_folder(few_pairs, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = Path('run')                                     # relative, as users type it
    cli('train', 'siamese', few_pairs, '--arch', 'squeezenet1_0', '--no-pretrained', '--size', '32', '--bs', '32', '--epochs', '1',
        '--lr', 'auto', '--out', out, '--workers', '0')
    check_run(out, capsys.readouterr().out)
    assert not (tmp_path/'models').exists()
    evaluate_predict_score(out, 'siamese', few_pairs, tmp_path, capsys, imagenet=False)

def check_run(out:Path, printed:str):
    "What `artmatch train` printed and wrote."
    assert 'roc_auc' in printed and 'validation pairs' in printed and 'choosing thresholds' in printed
    assert '\r' not in printed                            # no progress bars when the output is not a terminal
    assert {'model.safetensors', 'config.json', 'metrics.json', 'history.csv', 'lr_find.png', 'MODEL_CARD.md'} <= {p.name for p in out.iterdir()}
    assert not (out/'models').exists()                    # lr_find's temporary folder is gone

@pytest.mark.parametrize('approach', APPROACHES)
def test_train_evaluate_predict_score_from_imagenet(approach, imagenet_runs, prepared, tmp_path, capsys):
    out, printed = imagenet_runs[approach]
    check_run(out, printed)
    assert 'head stage' in printed and 'finding a learning rate' in printed
    evaluate_predict_score(out, approach, prepared, tmp_path, capsys, imagenet=True)

def evaluate_predict_score(out:Path, approach:str, prepared:Path, tmp_path:Path, capsys, imagenet:bool):
    "Each door's answer on the command line equals the library's on the same inputs and model."
    cli('evaluate', out)
    metrics = json.loads((out/'eval/metrics.json').read_text())
    methods = {'siamese': ['siamese'], 'classifier': ['softmax_dot', 'argmax', 'cosine'], 'embedding': ['cosine']}[approach]
    assert list(metrics) == methods
    if imagenet: assert metrics[methods[0]]['roc_auc'] > 0.6, metrics     # real features: clearly above chance
    assert all((out/'eval'/f'curves_{m}.png').exists() for m in methods)
    model = load_model(path=out)
    library = evaluate_model(model=model, data=prepared, split='test')
    assert np.allclose(library.roc_auc.to_numpy(), [metrics[m]['roc_auc'] for m in methods])
    assert f"{library.roc_auc.iloc[0]:.4f}" in capsys.readouterr().out
    works = pd.read_csv(prepared/'works.csv')
    a, b = prepared/works.image[0], prepared/works.image[1]
    cli('predict', out, a, b)
    assert describe_pair(predict_pair(model=model, image_a=a, image_b=b)) in capsys.readouterr().out.splitlines()
    test = works[works.split == 'test'].image.tolist()[:6]
    pd.DataFrame({'index': range(3), 'image1': test[:3], 'image2': test[3:]}).to_csv(tmp_path/'submission_info.csv', index=False)
    cli('score', out, tmp_path/'submission_info.csv', '--images', prepared, '--out', tmp_path/'scores.csv')
    scored, sub = pd.read_csv(tmp_path/'scores.csv'), pd.read_csv(tmp_path/'scores_submission.csv')
    column = 'p_same' if 'p_same' in scored else 'score'
    scores, _ = score_pairs(model, [prepared/p for p in test[:3]], [prepared/p for p in test[3:]])
    expected = scores if column == 'score' else p_same(model, methods[0], scores)
    assert np.allclose(scored[column], expected, atol=1e-6) and np.allclose(sub.sameArtist, expected, atol=1e-6)
    assert [predict_pair(model=model, image_a=prepared/p, image_b=prepared/q)[column] for p, q in zip(test[:3], test[3:])] \
           == pytest.approx(list(scored[column]), abs=1e-6)        # a pair scored alone equals the pair in a CSV
    folder = next((prepared/'images').iterdir())
    cli('score', out, '--images', folder, '--out', tmp_path/'all.csv')
    n = len(list(folder.glob('*.jpg')))
    assert f'scored {n * (n - 1) // 2} pairs' in capsys.readouterr().out
