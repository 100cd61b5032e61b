"A training process that is killed, or stopped with Ctrl-C, resumes from its checkpoint and finishes the same schedule."
import signal, subprocess, sys, time
from pathlib import Path
from unittest.mock import patch
import pandas as pd, pytest, torch
from artmatch.train import Checkpoint, Interrupted, train, resume
from conftest import SQUEEZENET

ARTMATCH = str(Path(sys.executable).parent/'artmatch')

def start_training(data, out) -> subprocess.Popen:
    "`artmatch train` of 3 short epochs in a process of its own; returns once its first checkpoint is on disk."
    cmd = [ARTMATCH, 'train', 'siamese', str(data), '--arch', 'squeezenet1_0', '--no-pretrained', '--size', '32', '--bs', '16',
           '--epochs', '3', '--lr', '1e-3', '--workers', '0', '--out', str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not (out/'checkpoint.pt').exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline, 'no checkpoint after 5 minutes'
        time.sleep(0.05)
    return proc

def resume_and_check(out):
    r = subprocess.run([ARTMATCH, 'train', '--resume', str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert 'saved' in r.stdout and (out/'model.safetensors').exists() and not (out/'checkpoint.pt').exists()
    assert pd.read_csv(out/'history.csv').epoch.tolist() == [0, 1, 2]      # every epoch once: the whole schedule, no repeats

def test_killed_training_resumes(few_pairs, tmp_path):
    out = tmp_path/'run'
    proc = start_training(few_pairs, out)
    proc.kill(); proc.wait()
    progress = torch.load(out/'checkpoint.pt', weights_only=True)['progress']
    assert progress['stage'] == 'all' and progress['epoch'] >= 1
    assert not (out/'model.safetensors').exists()
    resume_and_check(out)

def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(few_pairs, tmp_path):
    out = tmp_path/'run'
    proc = start_training(few_pairs, out)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    err = proc.stderr.read()
    assert 'Traceback' not in err and 'checkpoint saved' in err and f'--resume {out}' in err
    assert torch.load(out/'checkpoint.pt', weights_only=True)['progress']['epoch'] >= 1
    r = subprocess.run([ARTMATCH, 'train', 'siamese', '--out', str(out)], capture_output=True, text=True)
    assert r.returncode == 1 and 'holds an interrupted run' in r.stderr
    resume_and_check(out)

@pytest.mark.skipif(not SQUEEZENET.exists(), reason='../shared/weights is not here')
def test_stopped_in_the_head_stage_resumes_into_the_body_stage(few_pairs, tmp_path):
    "From ImageNet weights: Ctrl-C in the head stage (body frozen, features cached), then resume finishes the head and runs the body."
    out, after_batch = tmp_path/'run', Checkpoint.after_batch
    def ctrl_c_in_second_head_epoch(self):
        if self.stage == 'head' and self.training and self.epoch == 1: self.asked = True
        after_batch(self)
    with patch.object(Checkpoint, 'after_batch', ctrl_c_in_second_head_epoch), pytest.raises(Interrupted):
        train('classifier', few_pairs, out, arch='squeezenet1_0', weights=SQUEEZENET, size=32, bs=16, freeze_epochs=3, epochs=1,
              lr=1e-3, num_workers=0)
    assert torch.load(out/'checkpoint.pt', weights_only=True)['progress'] == dict(stage='head', epoch=1, batch=1)
    resume(out)
    assert (out/'model.safetensors').exists() and not (out/'checkpoint.pt').exists()
    assert pd.read_csv(out/'history.csv').epoch.tolist() == [0, 1, 2, 0]   # the head's 3 epochs once each, then the body's
