"""Test ROC AUC of every artmatch approach on the shared WikiArt set, on a work split and on an artist split.

    python benchmarks/auc_table.py                      # full settings: ../shared data and ImageNet weights, several hours on 2 CPU cores
    python benchmarks/auc_table.py --quick              # a tiny run that only checks the script works

Trains, with the library's `train`, a Siamese model with the reference project's concat head and with the symmetric
head, and an artist classifier (scored by argmax, softmax dot and embedding cosine), all over `squeezenet1_0` from the
shared ImageNet weights; on the work split also the Siamese and the classifier from scratch. Prints one table of test
ROC AUC and writes it, with every run's metrics, to OUT/auc_table.md and OUT/results.json.
"""
import argparse, json, platform, time, warnings
from pathlib import Path
import pandas as pd, torch
from artmatch.pairs import prepare
from artmatch.train import train
from artmatch.export import load_model
from artmatch.evaluate import evaluate_model

ROOT = Path(__file__).resolve().parents[1]

def runs(weights:Path, with_scratch:bool):
    "(name, approach, head, weights or None) of each model to train."
    yield 'Siamese, concat head (seed)', 'siamese', 'concat', weights
    yield 'Siamese, symmetric head', 'siamese', 'symmetric', weights
    yield 'classifier', 'classifier', 'softmax', weights
    if with_scratch:
        yield 'Siamese, concat head, from scratch', 'siamese', 'concat', None
        yield 'classifier, from scratch', 'classifier', 'softmax', None

def markdown(df:pd.DataFrame) -> str:
    "A markdown table of `df`, index first."
    head = ['', *df.columns]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    lines += ['| ' + ' | '.join([str(i), *('' if pd.isna(v) else f'{v:.3f}' for v in r)]) + ' |' for i, r in df.iterrows()]
    return '\n'.join(lines)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data', type=Path, default=ROOT.parent/'shared/data/artworks')
    p.add_argument('--weights', type=Path, default=ROOT.parent/'shared/weights/squeezenet1_0_imagenet.pth')
    p.add_argument('--arch', default='squeezenet1_0')
    p.add_argument('--out', type=Path, default=ROOT/'benchmarks/results')
    p.add_argument('--size', type=int, default=224)
    p.add_argument('--epochs', type=int, default=2)
    p.add_argument('--lr', default='2e-3', help="learning rate, or 'auto' for lr_find's (slower)")
    p.add_argument('--eval-neg-ratio', type=float, default=10,
                   help='different pairs kept per same pair in validation and test (ROC AUC does not depend on it)')
    p.add_argument('--freeze-epochs', type=int, default=1)
    p.add_argument('--artists', type=int, default=None, help='use only this many artists')
    p.add_argument('--partners', type=int, default=36, help='pairs per work when preparing')
    p.add_argument('--quick', action='store_true', help='tiny settings: 14 artists, 64 px, 1 epoch')
    a = p.parse_args()
    if a.quick: a.artists, a.size, a.epochs, a.freeze_epochs = 14, 64, 1, 1
    warnings.simplefilter('ignore')
    a.out.mkdir(parents=True, exist_ok=True)
    results, rows = {}, {}
    for split in ('work', 'artist'):
        data = a.out/f'data-{split}'
        prepare(a.data, data, artists=a.artists, split_by=split, size=max(a.size * 256 // 224, 64),
                partners=a.partners, eval_neg_ratio=a.eval_neg_ratio, seed=0)
        for name, approach, head, weights in runs(a.weights, with_scratch=split == 'work'):
            run = a.out/f'run-{split}-{approach}-{head}-{"imagenet" if weights else "scratch"}'
            start = time.time()
            train(approach, data, run, arch=a.arch, head=head, pretrained=weights is not None, weights=weights,
                  size=a.size, epochs=a.epochs, freeze_epochs=a.freeze_epochs, lr=a.lr)
            test = evaluate_model(load_model(run), data, 'test', out=run/'eval')
            results[f'{split}/{run.name}'] = dict(minutes=round((time.time() - start) / 60, 1), **test.to_dict(orient='index'))
            for method, auc in test.roc_auc.items():
                label = name if approach == 'siamese' else f'{name}: {method}'
                rows.setdefault(label, {})[f'{split} split'] = round(auc, 3)
            print(f'{split} split, {name}: ' + ', '.join(f'{m} AUC {v:.3f}' for m, v in test.roc_auc.items()), flush=True)
    table = pd.DataFrame.from_dict(rows, orient='index')
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, CPU"
    text = (f"Test ROC AUC, {a.arch} from {a.weights.name} unless 'from scratch'; {a.epochs} epochs "
            f"(+{a.freeze_epochs} frozen), lr {a.lr}, {a.size} px, {a.partners} partners per work, {a.eval_neg_ratio:g} different per same pair in "
            f"validation and test; machine: {machine}\n\n" + markdown(table) + '\n')
    print(text)
    (a.out/'auc_table.md').write_text(text)
    (a.out/'results.json').write_text(json.dumps(results, indent=2, default=float))

if __name__ == '__main__': main()
