"Bad input never crashes artmatch or changes the user's files: each case gets one clear line and a non-zero exit."
import io, os, struct, zlib
from pathlib import Path
import numpy as np, pandas as pd, pytest
from PIL import Image
from artmatch.cli import main
from artmatch.data import sample_path, read_collection
from artmatch.pairs import prepare, read_prepared
from conftest import tree_hashes

def fails_clearly(capsys, args, *says) -> str:
    "Run the CLI; it must exit 1 with one `artmatch: error:` line containing `says`, and no traceback."
    with pytest.raises(SystemExit) as e: main([str(a) for a in args])
    err = capsys.readouterr().err
    assert e.value.code == 1, err
    assert 'Traceback' not in err
    lines = [l for l in err.splitlines() if l.startswith('artmatch: error:')]
    assert len(lines) == 1, err
    for s in says: assert s in lines[0], lines[0]
    return lines[0]

def png_claiming(width:int, height:int) -> bytes:
    "A PNG whose header claims `width` x `height` pixels (a decompression bomb) with a tiny body."
    buf = io.BytesIO()
    Image.new('L', (1, 1)).save(buf, 'PNG')
    data = bytearray(buf.getvalue())
    ihdr = struct.pack('>II', width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack('>I', zlib.crc32(b'IHDR' + ihdr))
    return bytes(data)

@pytest.fixture
def messy(tmp_path) -> Path:
    "A folder collection of 3 artists whose files are every kind of trouble Painter by Numbers has."
    src = tmp_path/'messy'
    good = sorted((sample_path()/'images').rglob('*.jpg'))
    base = Image.open(good[0])
    for i, artist in enumerate(['Ann', 'Bob', 'Cy']):
        (src/artist).mkdir(parents=True)
        for j in range(3): (src/artist/f'ok{j}.jpg').write_bytes(good[3*i + j].read_bytes())
    a = src/'Ann'
    base.convert('CMYK').save(a/'cmyk.jpg')
    base.convert('L').save(a/'gray.jpg')
    base.convert('RGBA').save(a/'alpha.png')
    base.convert('P').save(a/'palette.png')
    Image.fromarray((np.asarray(base.convert('L')).astype(np.uint16) * 257)).save(a/'deep16.png')
    exif = Image.Exif(); exif[0x0112] = 6                       # rotate 90 degrees when shown
    Image.new('RGB', (300, 200)).save(a/'rotated.jpg', exif=exif)
    base.save(a/'anim.gif', save_all=True, append_images=[base.convert('L')])
    base.save(a/'tiny.webp'); base.save(a/'scan.tiff')
    Image.new('RGB', (1, 1)).save(a/'dot.png'); Image.new('RGB', (10, 3000)).save(a/'scroll.png')
    b = src/'Bob'
    (b/'empty.jpg').write_bytes(b'')
    (b/'cut.jpg').write_bytes(good[0].read_bytes()[:2000])
    (b/'page.jpg').write_text('<html><body>404 Not Found</body></html>')
    (b/'bomb.png').write_bytes(png_claiming(20000, 20000))
    return src

def test_prepare_converts_or_reports_every_bad_image(messy, tmp_path):
    before = tree_hashes(messy)
    with pytest.warns(UserWarning, match='skipped 4 unreadable'):
        prepare(messy, tmp_path/'out', size=64, partners=4, valid_pct=0, test_pct=0)
    assert tree_hashes(messy) == before                    # originals untouched
    works, _ = read_prepared(tmp_path/'out')
    skipped = pd.read_csv(tmp_path/'out/skipped.csv')
    reasons = dict(zip(skipped.image.map(lambda p: Path(p).name), skipped.reason))
    assert set(reasons) == {'empty.jpg', 'cut.jpg', 'page.jpg', 'bomb.png'}
    assert 'not an image' in reasons['empty.jpg'] and 'not an image' in reasons['page.jpg']
    assert 'cannot decode' in reasons['cut.jpg'] and 'too large (20000x20000' in reasons['bomb.png']
    kept = set(works.source.map(lambda p: Path(p).name))
    assert {'cmyk.jpg', 'gray.jpg', 'alpha.png', 'palette.png', 'deep16.png', 'rotated.jpg', 'anim.gif', 'tiny.webp',
            'scan.tiff', 'dot.png', 'scroll.png'} <= kept
    for p in works.image:
        im = Image.open(tmp_path/'out'/p)
        assert im.mode == 'RGB' and min(im.size) == 64
    rotated = works.image[works.source.str.endswith('rotated.jpg')].item()
    assert Image.open(tmp_path/'out'/rotated).size == (64, 96)    # EXIF orientation applied: portrait

def test_cli_reports_skipped_and_goes_on(messy, tmp_path, capsys):
    main(['prepare', str(messy), str(tmp_path/'out'), '--size', '64', '--partners', '4'])
    captured = capsys.readouterr()
    assert 'artmatch: warning: skipped 4 unreadable images' in captured.err and 'Traceback' not in captured.err

def test_missing_source(tmp_path, capsys):
    fails_clearly(capsys, ['prepare', tmp_path/'nowhere', tmp_path/'out'], 'nowhere', 'no such file or folder')

def test_csv_without_columns(tmp_path, capsys):
    pd.DataFrame({'picture': ['a.jpg'], 'painter': ['X']}).to_csv(tmp_path/'c.csv', index=False)
    fails_clearly(capsys, ['prepare', tmp_path/'c.csv', tmp_path/'out'], 'c.csv', "no column 'image'", '--image-col')
    fails_clearly(capsys, ['prepare', tmp_path/'c.csv', tmp_path/'out', '--image-col', 'picture'], "no column 'artist'", '--artist-col')

def test_empty_csv(tmp_path, capsys):
    (tmp_path/'e.csv').write_text('')
    fails_clearly(capsys, ['prepare', tmp_path/'e.csv', tmp_path/'out'], 'e.csv', 'empty')

def test_nan_labels_and_duplicates_are_dropped(tmp_path):
    works = read_collection(sample_path()).head(6)
    df = pd.DataFrame({'image': list(works.image) + [works.image[0]], 'artist': ['A', 'A', 'B', 'B', '', None, 'A']})
    df.to_csv(tmp_path/'w.csv', index=False)
    with pytest.warns(UserWarning) as w: got = read_collection(tmp_path/'w.csv')
    messages = ' '.join(str(m.message) for m in w)
    assert len(got) == 4 and 'without an artist' in messages and 'repeat an image' in messages

def test_single_image_artist_is_said_not_crashed(tmp_path):
    works = read_collection(sample_path())
    one = pd.concat([works[works.artist != 'Paul Signac'], works[works.artist == 'Paul Signac'].head(1)])
    one.to_csv(tmp_path/'w.csv', index=False)
    with pytest.warns(UserWarning, match='fewer than 2 works'):
        summary = prepare(tmp_path/'w.csv', tmp_path/'out', size=32, partners=4)
    assert summary.artists.max() == 7

@pytest.mark.parametrize('inside', [False, True])
def test_output_in_source_is_refused(capsys, inside):
    out = sample_path()/'prepared' if inside else sample_path()
    fails_clearly(capsys, ['prepare', sample_path(), out], 'outside the source')
    assert not (sample_path()/'prepared').exists()

def test_foreign_output_folder_is_refused(tmp_path, capsys):
    (tmp_path/'mine').mkdir(); (tmp_path/'mine/notes.txt').write_text('keep me')
    fails_clearly(capsys, ['prepare', sample_path(), tmp_path/'mine'], 'not made by artmatch prepare')
    assert (tmp_path/'mine/notes.txt').read_text() == 'keep me'

@pytest.mark.parametrize('args, says', [
    (['--size', '0'], '--size 0'), (['--partners', '0'], '--partners 0'), (['--artists', '20'], 'only 8 artists'),
    (['--neg-ratio', '-1'], '--neg-ratio -1'), (['--valid-pct', '0.6', '--test-pct', '0.5'], 'leave nothing to train on'),
    (['--min-works', '1'], '--min-works 1'), (['--split-by', 'artist', '--valid-pct', '0.05'], 'fewer than 2 artists')])
def test_bad_arguments(tmp_path, capsys, args, says):
    fails_clearly(capsys, ['prepare', sample_path(), tmp_path/'out', *args], says)

def test_unmeetable_ratio_warns(tmp_path):
    with pytest.warns(UserWarning, match='below the asked ratio'):
        prepare(sample_path(), tmp_path/'out', size=32, partners=2, neg_ratio=50)

def test_bad_input_to_model_commands(tmp_path, capsys, siamese_run, prepared):
    fails_clearly(capsys, ['evaluate', tmp_path/'no-run'], 'no such model folder')
    img = prepared/pd.read_csv(prepared/'works.csv').image[0]
    (tmp_path/'page.jpg').write_text('<html>')
    fails_clearly(capsys, ['predict', siamese_run, img, tmp_path/'page.jpg'], 'page.jpg', 'not an image')
    fails_clearly(capsys, ['predict', siamese_run, img, tmp_path/'gone.jpg'], 'gone.jpg', 'no such image')
    pd.DataFrame({'a': [1]}).to_csv(tmp_path/'p.csv', index=False)
    fails_clearly(capsys, ['score', siamese_run, tmp_path/'p.csv', '--out', tmp_path/'s.csv'], 'needs image1 and image2')
    fails_clearly(capsys, ['score', siamese_run, prepared/'pairs.csv', '--out', prepared/'pairs.csv'], 'overwrite the input')
    fails_clearly(capsys, ['train', 'siamese', tmp_path, '--out', tmp_path/'r'], 'not a prepared folder')
    fails_clearly(capsys, ['train', 'siamese', prepared, '--arch', 'nonet', '--out', tmp_path/'r2'], "unknown architecture 'nonet'")
    fails_clearly(capsys, ['train', 'siamese', prepared, '--epochs', '-1', '--out', tmp_path/'r3'], '--epochs -1')

def test_attribute_without_images_says_so(tmp_path, capsys, siamese_run):
    "An empty folder, or only unreadable images, is an error that names them, never a traceback or a quiet exit 0."
    from artmatch.index import build_index
    build_index(model=siamese_run, collection=sample_path(), out=tmp_path/'index')
    (tmp_path/'empty').mkdir()
    fails_clearly(capsys, ['attribute', siamese_run, tmp_path/'empty', '--index', tmp_path/'index'], 'empty: no images below this folder')
    (tmp_path/'page.jpg').write_text('<html>')
    fails_clearly(capsys, ['attribute', siamese_run, tmp_path/'page.jpg', '--index', tmp_path/'index'], 'none of the 1 images could be read')

def test_debug_shows_traceback(tmp_path):
    from artmatch.core import ArtmatchError
    with pytest.raises(ArtmatchError): main(['--debug', 'prepare', str(tmp_path/'nowhere'), str(tmp_path/'out')])

def test_score_table_cases(tmp_path, capsys, classifier_run, prepared):
    "Paths escaping the images folder, missing images and works by artists the model never saw, in one pairs CSV."
    unknown = tmp_path/'images'
    unknown.mkdir()
    rng = np.random.default_rng(0)
    for k in range(2): Image.fromarray(rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)).save(unknown/f'stranger{k}.jpg')
    known = pd.read_csv(prepared/'works.csv').image[0]
    (unknown/'known.jpg').write_bytes((prepared/known).read_bytes())
    pairs = pd.DataFrame({'index': range(4), 'image1': ['stranger0.jpg', 'known.jpg', '../../etc/passwd', 'gone.jpg'],
                          'image2': ['stranger1.jpg', 'stranger0.jpg', 'known.jpg', 'known.jpg']})
    pairs.to_csv(tmp_path/'pairs.csv', index=False)
    before = tree_hashes(tmp_path)
    main(['score', str(classifier_run), str(tmp_path/'pairs.csv'), '--images', str(unknown), '--out', str(tmp_path/'out/s.csv')])
    assert 'scored 2 pairs' in capsys.readouterr().out
    scores = pd.read_csv(tmp_path/'out/s.csv')
    column = scores.columns[-1]          # p_same, or score where this from-scratch classifier has no P(same artist)
    assert column in ('p_same', 'score') and scores[column][:2].between(0, 1).all() and scores[column][2:].isna().all()
    skipped = pd.read_csv(tmp_path/'out/s_skipped.csv')
    assert any('outside the images folder' in r for r in skipped.reason) and any('gone.jpg' in i for i in skipped.image)
    assert {p: h for p, h in tree_hashes(tmp_path).items() if 'out' not in p.parts} == before

def test_non_utf8_csv_and_file_names(tmp_path):
    "A CSV saved in Latin-1 is read with a warning that says what to do; image files whose names are not UTF-8 are prepared."
    works = read_collection(sample_path()).head(6)
    table = pd.DataFrame({'image': works.image, 'artist': ['Cézanne'] * 3 + ['Signac'] * 3})
    (tmp_path/'latin1.csv').write_bytes(table.to_csv(index=False).encode('latin-1'))
    before = tree_hashes(tmp_path)
    with pytest.warns(UserWarning, match='latin1.csv: not UTF-8 text'):
        prepare(tmp_path/'latin1.csv', tmp_path/'out1', size=32, partners=2)
    assert len(read_prepared(tmp_path/'out1')[0]) == 6
    src = tmp_path/'folder'
    for artist, images in (('A', works.image[:3]), ('B', works.image[3:6])):   # six different works: copies would be dropped as duplicates
        (src/artist).mkdir(parents=True)
        for k, path in enumerate(images):
            name = os.fsencode(src/artist) + (b'/caf\xe9%d.jpg' % k if k == 0 else b'/ok%d.jpg' % k)
            with open(name, 'wb') as f: f.write(Path(path).read_bytes())
    folder_before = tree_hashes(src)
    prepare(src, tmp_path/'out2', size=32, partners=2)
    works_out, _ = read_prepared(tmp_path/'out2')
    assert len(works_out) == 6 and works_out.image.map(lambda p: (tmp_path/'out2'/p).exists()).all()
    assert tree_hashes(src) == folder_before and all(tree_hashes(tmp_path)[p] == h for p, h in before.items())
