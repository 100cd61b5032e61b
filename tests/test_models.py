"Model files are safe to load, weights come from where they say, and a saved model predicts as it did."
import json, os, pickle, shutil
from pathlib import Path
import pandas as pd, pytest, torch, torchvision
from artmatch.core import ArtmatchError
from artmatch.models import create_backbone, build_model, WeightsUnavailable, DEFAULT_POOLING
from artmatch.export import load_model, save_model
from artmatch.predict import predict_pair
from artmatch.explain import explain_pair
from artmatch.scoring import score_pairs
from artmatch.cli import main
from conftest import SQUEEZENET, tiny_train

class RunsCode:
    "Unpickling this writes a file: proof that code ran."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (Path.write_text, (Path(self.marker), 'code ran'))

def test_model_folder_with_a_pickle_is_refused(siamese_run, tmp_path):
    evil = tmp_path/'evil'
    shutil.copytree(siamese_run, evil)
    marker = tmp_path/'pwned'
    (evil/'model.safetensors').write_bytes(pickle.dumps(RunsCode(marker)))
    with pytest.raises(ArtmatchError, match='not a readable safetensors file'): load_model(evil)
    assert not marker.exists()

def test_weights_file_with_a_pickle_is_refused(tmp_path):
    marker = tmp_path/'pwned'
    torch.save({'features.0.weight': RunsCode(marker)}, tmp_path/'evil.pth')
    with pytest.raises(ArtmatchError, match='not a state dict that loads safely'):
        create_backbone('squeezenet1_0', weights=tmp_path/'evil.pth')
    assert not marker.exists()

@pytest.mark.parametrize('field, value, says', [
    ('arch', '__import__("os").system', 'is not a known'), ('size', 10**9, 'size'), ('approach', 'gan', 'approach'),
    ('stats', 'x', 'stats'), ('head', 'exec', 'head'), ('calibration', {'cosine': [1, 'x']}, 'calibration'),
    ('verification', {'siamese': [1.0, float('nan'), 0.5]}, 'verification'), ('artists', 'Monet', 'artists')])
def test_config_is_checked_before_anything_is_built(siamese_run, tmp_path, field, value, says):
    bad = tmp_path/'bad'
    shutil.copytree(siamese_run, bad)
    config = json.loads((bad/'config.json').read_text())
    (bad/'config.json').write_text(json.dumps({**config, field: value}))
    with pytest.raises(ArtmatchError, match=says): load_model(bad)

def test_config_and_weights_disagree(siamese_run, classifier_run, tmp_path):
    bad = tmp_path/'bad'
    shutil.copytree(siamese_run, bad)
    shutil.copy(classifier_run/'model.safetensors', bad/'model.safetensors')
    with pytest.raises(ArtmatchError, match='disagree'): load_model(bad)

@pytest.mark.parametrize('run_name', ['siamese_run', 'classifier_run'])
def test_save_load_predict_gives_identical_outputs(run_name, request, prepared, tmp_path):
    run = request.getfixturevalue(run_name)
    model = load_model(run)
    works = pd.read_csv(prepared/'works.csv')
    paths = [prepared/p for p in works.image[:6]]
    before, _ = score_pairs(model, paths[:3], paths[3:])
    save_model(model, tmp_path/'again')
    after, _ = score_pairs(load_model(tmp_path/'again'), paths[:3], paths[3:])
    assert (before == after).all()
    assert predict_pair(run, paths[0], paths[1]) == predict_pair(tmp_path/'again', paths[0], paths[1])

def test_classifier_predict_names_artists(classifier_run, prepared):
    works = pd.read_csv(prepared/'works.csv')
    r = predict_pair(classifier_run, prepared/works.image[0], prepared/works.image[1])
    artists = json.loads((classifier_run/'config.json').read_text())['artists']
    assert r['artist_a'] in artists and 0 < r['artist_a_probability'] <= 1 and r['method'] == 'softmax_dot'

def offline(monkeypatch):
    "Make every torchvision weights download fail as it does without network."
    def no_network(self, *a, **k): raise OSError('<urlopen error [Errno -2] Name or service not known>')
    monkeypatch.setattr(torchvision.models.WeightsEnum, 'get_state_dict', no_network)

def test_library_stops_when_weights_cannot_be_had(monkeypatch):
    offline(monkeypatch)
    with pytest.raises(WeightsUnavailable, match='cannot get the ImageNet weights of squeezenet1_0.*pretrained=False'):
        build_model('siamese', 'squeezenet1_0')

def test_command_line_names_its_flags_when_weights_cannot_be_had(monkeypatch, prepared, tmp_path, capsys):
    "The library's advice (`weights`, pretrained=False) reaches the command line as its flags."
    offline(monkeypatch)
    with pytest.raises(SystemExit):
        main(['train', 'siamese', str(prepared), '--arch', 'squeezenet1_0', '--no-fallback-scratch', '--out', str(tmp_path/'run')])
    err = capsys.readouterr().err
    assert 'cannot get the ImageNet weights of squeezenet1_0' in err and '--weights' in err and '--no-pretrained' in err, err

def test_train_can_fall_back_to_scratch_loudly(monkeypatch, prepared, tmp_path):
    offline(monkeypatch)
    with pytest.warns(UserWarning, match='TRAINED FROM SCRATCH'):
        tiny_train('siamese', prepared, tmp_path/'run', pretrained=True, scratch_if_unavailable=True, epochs=0)   # the CLI's default
    config = json.loads((tmp_path/'run/config.json').read_text())
    assert config['weights_source'].startswith('none (TRAINED FROM SCRATCH')
    card = (tmp_path/'run/MODEL_CARD.md').read_text()
    assert 'WARNING: TRAINED FROM SCRATCH' in card and 'train from scratch with' not in card   # no advice to do what it did
    run = json.loads((tmp_path/'run/run.json').read_text())
    assert config['training']['epochs'] == run['epochs'] == 1 and '"epochs": 1' in card      # the epoch it trained, everywhere
    with pytest.raises(WeightsUnavailable): tiny_train('siamese', prepared, tmp_path/'run2', pretrained=True)

@pytest.mark.skipif(not SQUEEZENET.exists(), reason='../shared/weights is not here')
def test_local_weights_are_recorded_and_freeze_the_body(prepared, tmp_path):
    tiny_train('classifier', prepared, tmp_path/'run', weights=SQUEEZENET, freeze_epochs=1)
    config = json.loads((tmp_path/'run/config.json').read_text())
    assert config['weights_source'].startswith('file:squeezenet1_0_imagenet.pth sha256:')
    assert config['training']['freeze_epochs'] == 1

def test_timm_backbone_by_name():
    pytest.importorskip('timm')
    bb = create_backbone('resnet10t', pretrained=False)
    assert bb.body(torch.zeros(2, 3, 64, 64)).shape == (2, bb.n_features) and bb.weights_source == 'none'
    assert len(bb.stats) == 2 and len(bb.stats[0]) == 3

def test_an_ensemble_trains_saves_predicts_and_explains_as_one_body(prepared, tmp_path):
    tiny_train('embedding', prepared, tmp_path/'run', arch='squeezenet1_0+squeezenet1_1')
    model = load_model(tmp_path/'run')
    one = [create_backbone(a, pretrained=False, pooling=DEFAULT_POOLING['embedding']).n_features
           for a in ('squeezenet1_0', 'squeezenet1_1')]
    assert model.config['arch'] == 'squeezenet1_0+squeezenet1_1' and model.config['n_features'] == sum(one)
    works = pd.read_csv(prepared/'works.csv')
    a, b = (prepared/p for p in works.image[:2])
    answer = predict_pair(model=tmp_path/'run', image_a=a, image_b=b)
    save_model(model, tmp_path/'again')
    assert predict_pair(model=tmp_path/'again', image_a=a, image_b=b) == answer
    explanation = explain_pair(model=tmp_path/'run', image_a=a, image_b=b)
    # an untrained 64-pixel body can leave one work's Grad-CAM map all zero (no region raises the score); not both
    assert explanation['p_same'] == answer['p_same'] and max(m.max() for m in explanation['maps']) > 0
