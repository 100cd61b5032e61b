"""Explanations point at the half of a composite work that matches, on real features (the ready model over
EfficientNet-Lite2's ImageNet weights), and the command line, the library and the page draw the same picture."""
from pathlib import Path
import numpy as np, pandas as pd, pytest
from PIL import Image
from artmatch.cli import main
from artmatch.data import sample_path
from artmatch.export import load_model
from artmatch.attribute import attribute, verdict
from artmatch.index import build_index
from artmatch.predict import describe_pair
from artmatch.explain import explain_pair, explanation_image, explain_ranking, composite_work

SAMPLE = sample_path()
LABELS = pd.read_csv(SAMPLE/'labels.csv')
ARTISTS = list(LABELS.artist.unique())          # 8 artists, 25 works each
WORKS = {a: [SAMPLE/p for p in LABELS.filename[LABELS.artist == a]] for a in ARTISTS}

@pytest.fixture(scope='module')
def model(): return load_model()

def left_share(heat:np.ndarray) -> float: return float(heat[:, :112].sum() / heat.sum())

def test_composites_are_explained_by_the_half_that_matches(model, tmp_path):
    """8 fixed composites (left: artist A's work k, right: artist B's work k, B three artists on): against another work by A,
    the left half holds more than 60 % of the composite's map; against another work by B, less than 40 %."""
    shares = []
    for k, a in enumerate(ARTISTS):
        b = ARTISTS[(k + 3) % len(ARTISTS)]
        work = tmp_path/f'composite-{k}.png'
        composite_work(WORKS[a][k], WORKS[b][k]).save(work)
        shares.append([left_share(explain_pair(model, work, WORKS[artist][k + 1])['maps'][0]) for artist in (a, b)])
    shares = np.array(shares)
    print('left half of the map, against A and against B, per composite:\n', shares.round(3))
    assert shares[:, 0].mean() > 0.6 and shares[:, 1].mean() < 0.4, shares
    assert (shares[:, 0] > shares[:, 1]).all(), shares      # each composite leans to the half of the work it is compared with

def test_predict_explain_draws_what_the_library_draws(model, tmp_path, capsys):
    a, b = WORKS['Alfred Sisley'][0], WORKS['Paul Signac'][0]
    main(['predict', str(a), str(b), '--explain', str(tmp_path/'why.png')])
    printed = capsys.readouterr().out
    explanation = explain_pair(model=model, image_a=a, image_b=b)
    assert printed.startswith(describe_pair(explanation) + '\n'), printed
    assert f"wrote {tmp_path/'why.png'}" in printed
    assert np.array_equal(np.asarray(Image.open(tmp_path/'why.png')), np.asarray(explanation_image(explanation)))

def test_explain_refuses_what_it_cannot_do(tmp_path, capsys):
    a, b = WORKS['Alfred Sisley'][0], WORKS['Alfred Sisley'][1]
    for args, message in [([a, b, '--explain', b], 'would be overwritten'),
                          ([a, b, '--explain', tmp_path/'why.gif'], 'ending in .png or .jpg'),
                          ([a, '--against', a.parent, '--explain', tmp_path/'why.png'], '--explain explains a pair'),
                          ([a, b, '--explain', tmp_path/'why.png', '--method', 'argmax'], "--method 'argmax' gives 1 or 0")]:
        with pytest.raises(SystemExit) as e: main(['predict', *map(str, args)])
        assert e.value.code == 1 and message in capsys.readouterr().err
    assert not (tmp_path/'why.png').exists()
    (tmp_path/'why').write_text('a file of the user')
    with pytest.raises(SystemExit) as e: main(['attribute', str(a), '--index', str(tmp_path), '--explain', str(tmp_path/'why')])
    assert e.value.code == 1 and 'why: a file, not a folder' in capsys.readouterr().err
    assert (tmp_path/'why').read_text() == 'a file of the user'

def test_attribute_explain_writes_a_picture_per_image(model, tmp_path, capsys):
    collection = pd.DataFrame({'image': [str(p) for a in ARTISTS[:3] for p in WORKS[a][5:11]],
                               'artist': np.repeat(ARTISTS[:3], 6)})
    collection.to_csv(tmp_path/'collection.csv', index=False)
    build_index(model=model, collection=tmp_path/'collection.csv', out=tmp_path/'index')
    images = [WORKS[ARTISTS[0]][0], WORKS[ARTISTS[6]][0], tmp_path/'collection.csv']     # known, unknown artist, not an image
    main(['attribute', *map(str, images), '--index', str(tmp_path/'index'), '--explain', str(tmp_path/'why')])
    printed = capsys.readouterr().out
    ranking = attribute(model=model, index=tmp_path/'index', images=images)
    written = explain_ranking(model=model, ranking=ranking, folder=tmp_path/'py')
    assert len(written) == 2 and (written.error == '').all()
    for image, path in zip(written.image, written.explanation):
        cli_picture = tmp_path/'why'/(Path(image).stem + '_explained.png')
        assert f"wrote {cli_picture}: explains {image}" in printed
        assert np.array_equal(np.asarray(Image.open(cli_picture)), np.asarray(Image.open(path)))
    assert sorted(p.name for p in (tmp_path/'why').iterdir()) == sorted(Path(p).name for p in written.explanation)
    rows = ranking[ranking.image == str(images[1])]
    assert f"  {verdict(rows=rows, threshold=ranking.attrs['threshold'])}" in printed
    gone = ranking.assign(nearest_work=ranking.nearest_work.where(ranking.image != str(images[0]), str(tmp_path/'gone.jpg')))
    gone.attrs.update(ranking.attrs)
    written = explain_ranking(model=model, ranking=gone, folder=tmp_path/'py')
    assert written.error[0].startswith(f"{images[0]}: its top artist's nearest work, {tmp_path/'gone.jpg'}, cannot be read")
    assert written.explanation[0] == '' and written.error[1] == ''
