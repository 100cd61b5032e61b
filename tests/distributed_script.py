"""Run by `test_distributed.py` as `torchrun --nproc_per_node 2 distributed_script.py OUT`: prepare a small sample in rank 0,
fine-tune a little in every rank, let rank 0 save the model, and write what each rank saw to `OUT/rank{N}.json`."""
import hashlib, json, sys, warnings
from pathlib import Path
import matplotlib; matplotlib.use('Agg')
import pandas as pd
from fastai.vision.all import AccumMetric, CSVLogger, set_seed
from artmatch.data import sample_path
from artmatch.pairs import prepare
from artmatch.loaders import pair_dls
from artmatch.learner import siamese_learner
from artmatch.export import save_model
from artmatch.distributed import rank, world_size, rank0_first, rank0_only, distributed_ctx, mixed_precision
warnings.filterwarnings('ignore')

N_TRAIN, N_VALID = 64, 45  # an odd number of validation pairs: the two shards are padded, and fastai must drop the padding

def prepare_small(data:Path) -> int:
    "The bundled sample at 72 px, cut to `N_TRAIN` training and `N_VALID` validation pairs; the rank that did it."
    prepare(sample_path(), data, size=72, partners=6)
    pairs = pd.read_csv(data/'pairs.csv')
    pairs = pd.concat([pairs[pairs.split == s].sample(n, random_state=0) for s, n in [('train', N_TRAIN), ('valid', N_VALID)]])
    pairs.to_csv(data/'pairs.csv', index=False)
    return rank()

def cached(path:Path) -> str:
    "A stand-in for a feature cache: computed and written when missing, read when there."
    if path.exists(): return 'read'
    path.write_text('features')
    return 'computed'

def n_items(preds, targs): return len(targs)

def weights_hash(model) -> str:
    return hashlib.sha256(b''.join(v.detach().cpu().numpy().tobytes() for v in model.state_dict().values())).hexdigest()

def main(out:Path):
    "Prepare in rank 0, fine-tune in every rank, save in rank 0, as a distributed `artmatch train` does; write what this rank saw."
    data = out/'data'
    prepared_by = rank0_only(prepare_small, data)
    cache = rank0_first(cached, out/'features.txt')
    set_seed(0, reproducible=True)
    learn = siamese_learner(pair_dls(data, size=64, bs=16, num_workers=0), 'squeezenet1_0', pretrained=False, path=out,
                            cbs=CSVLogger(fname=str(out/'history.csv'), append=True))
    learn.metrics = [*learn.metrics, AccumMetric(n_items, flatten=False, name='n_items')]
    mixed_precision(learn)
    lr = rank0_only(lambda: float(learn.lr_find(num_it=20, show_plot=False).valley))
    with distributed_ctx(learn): learn.fine_tune(1, lr, freeze_epochs=1)
    rank0_only(save_model, learn.model, out/f'model-rank{rank()}')
    result = dict(rank=rank(), world_size=world_size(), prepared_by=prepared_by, cache=cache, lr=lr,
                  train_batches=learn.train_iter, weights=weights_hash(learn.model), metric_names=list(learn.recorder.metric_names),
                  values=[list(map(float, v)) for v in learn.recorder.values],
                  alone=[float(v) for v in rank0_only(learn.validate)])
    (out/f'rank{rank()}.json').write_text(json.dumps(result, indent=1))

if __name__ == '__main__': main(Path(sys.argv[1]))
