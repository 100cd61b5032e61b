"Each approach learns from real ImageNet features of the sample: its first loss is near chance, and a short training beats chance and the frozen features."
import json, math
import pandas as pd, pytest, torch
from artmatch.loaders import pair_dls, artist_dls
from artmatch.learner import siamese_learner, classifier_learner, embedding_learner, MetricLoss
from artmatch.features import head_learner
from artmatch.predict import predict_pair
from artmatch.train import PER_ARTIST
from artmatch.models import build_model, create_backbone
from artmatch.export import load_model
from artmatch.scoring import score_pairs
from artmatch.pairs import read_prepared
from artmatch.cli import main
from sklearn.metrics import roc_auc_score
from conftest import SQUEEZENET, APPROACHES

pytestmark = pytest.mark.skipif(not SQUEEZENET.exists(), reason='../shared/weights is not here')

def frozen_learner(approach, data):
    "A learner of `approach` over ImageNet SqueezeNet on 64-pixel crops of the prepared sample, body frozen."
    if approach == 'siamese':
        return siamese_learner(pair_dls(data, size=64, bs=32, per_artist=PER_ARTIST, num_workers=0), 'squeezenet1_0', weights=SQUEEZENET)
    embedding = approach == 'embedding'
    dls = artist_dls(data, size=64, bs=32, per_artist=PER_ARTIST if embedding else None, unseen=embedding, num_workers=0)
    make = classifier_learner if approach == 'classifier' else embedding_learner
    return make(dls, 'squeezenet1_0', weights=SQUEEZENET)

@pytest.mark.parametrize('approach', APPROACHES)
def test_first_loss_is_near_chance(approach, prepared):
    learn = head_learner(frozen_learner(approach, prepared))
    learn.model.train()
    *x, y = learn.dls.train.one_batch()
    loss = float(learn.loss_func(learn.model(*x), y))
    if approach == 'siamese': chance = math.log(2)                      # P(same) = 1/2
    elif approach == 'classifier': chance = math.log(len(learn.model.config['artists']))   # 1/artists each
    else:                                                                # random embeddings, 1/artists each
        n = len(learn.model.config['artists'])
        chance = float(MetricLoss(n)(torch.cat([torch.randn(len(y), 512), torch.zeros(len(y), n)], 1), y))
    assert loss < 1.5 * chance, (loss, chance)

@pytest.fixture(scope='module')
def trained(imagenet_runs) -> dict:
    "Each approach trained with `train`'s defaults (head stage on cached features) on the sample, from ImageNet SqueezeNet."
    return {approach: run for approach, (run, _) in imagenet_runs.items()}

def test_training_beats_chance_and_frozen_features(trained):
    "Validation pair ROC AUC of each approach's default score, against chance and against the frozen features' cosine."
    valid = {a: json.loads((run/'metrics.json').read_text())['valid'] for a, run in trained.items()}
    frozen = valid['classifier']['cosine']['roc_auc']        # the classifier's cosine compares the frozen body's features
    aucs = {'siamese': valid['siamese']['siamese']['roc_auc'], 'classifier': valid['classifier']['softmax_dot']['roc_auc'],
            'embedding': valid['embedding']['cosine']['roc_auc']}
    for approach, auc in aucs.items(): assert auc > 0.65 and auc > frozen + 0.05, (approach, auc, frozen)

def test_classifier_learns_the_artists(trained):
    history = pd.read_csv(trained['classifier']/'history.csv')
    assert history.artist_accuracy.max() > 3 / 8, history.artist_accuracy.max()       # 8 artists: chance is 1/8

@pytest.mark.parametrize('approach', ['classifier', 'embedding'])
def test_predict_says_same_for_two_training_works_of_one_artist(approach, trained, prepared):
    works = pd.read_csv(prepared/'works.csv')
    hokusai = works[(works.split == 'train') & (works.artist == 'Katsushika Hokusai')].image
    result = predict_pair(trained[approach], prepared/hokusai.iloc[0], prepared/hokusai.iloc[1])
    assert result['same_artist'], result

def test_training_the_last_stage_learns_and_moves_it_alone(prepared, tmp_path):
    """`--tune-stages 1` from EfficientNet-Lite2's ImageNet weights (pip): it beats chance and the frozen features compared
    by cosine on the validation pairs, and only the last stage, the head convolution after it and the head change."""
    out = tmp_path/'tuned'
    main(['train', 'embedding', str(prepared), '--tune-stages', '1', '--epochs', '2', '--size', '64', '--bs', '32',
          '--workers', '0', '--out', str(out)])
    model, wheel = load_model(out), create_backbone('tf_efficientnet_lite2').body.state_dict()
    changed = {'.'.join(k.split('.')[1:3 if k.startswith('body.blocks') else 2])
               for k, v in model.body.state_dict().items() if not torch.equal(v, wheel[k])}
    assert changed == {'blocks.6', 'conv_head', 'bn2'}, changed
    valid = read_prepared(prepared)[1].query("split == 'valid'")
    frozen = build_model('classifier', artists=['a', 'b'])        # its cosine compares the frozen body's features
    frozen.config['size'] = 64
    pairs = [[prepared/p for p in valid[c]] for c in ('image1', 'image2')]
    frozen_auc = roc_auc_score(valid.same, score_pairs(frozen, *pairs, method='cosine')[0])
    auc = json.loads((out/'metrics.json').read_text())['valid']['cosine']['roc_auc']
    assert auc > 0.65 and auc > frozen_auc + 0.05, (auc, frozen_auc)
