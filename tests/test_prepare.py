"`prepare` on every form of collection: what it writes and the numbers it prints."
import shutil
from pathlib import Path
import pandas as pd, pytest
from PIL import Image
from artmatch.cli import main
from artmatch.data import sample_path, read_collection
from artmatch.pairs import prepare, read_prepared
from conftest import needs_shared, SHARED, tree_hashes

def check_prepared(out:Path, size:int) -> tuple[pd.DataFrame, pd.DataFrame]:
    "Every listed image exists with shorter side `size`; no pair crosses splits or repeats."
    works, pairs = read_prepared(out)
    for p in works.image: assert min(Image.open(out/p).size) == size
    split_of = dict(zip(works.image, works.split))
    assert (pairs.image1.map(split_of) == pairs.split).all() and (pairs.image2.map(split_of) == pairs.split).all()
    assert not pairs[['image1', 'image2']].apply(frozenset, axis=1).duplicated().any()
    assert set(pairs.image1) | set(pairs.image2) <= set(works.image)
    return works, pairs

def test_sample_by_cli(tmp_path, capsys):
    main(['prepare', str(sample_path()), str(tmp_path/'out'), '--size', '64', '--partners', '12'])
    printed = capsys.readouterr().out
    works, pairs = check_prepared(tmp_path/'out', 64)
    train = pairs[pairs.split == 'train']
    assert round((len(train) - train.same.sum()) / train.same.sum(), 2) == 1.75
    assert f"{len(train)}" in printed and '1.75' in printed
    assert list(pairs.columns) == ['image1', 'image2', 'same', 'split']
    assert {'image', 'artist', 'split', 'source', 'style', 'title'} <= set(works.columns)

def test_rerun_resizes_only_what_is_missing(tmp_path):
    prepare(sample_path(), tmp_path/'out', size=64, partners=4)
    first = next((tmp_path/'out/images').rglob('*.jpg'))
    stamp = first.stat().st_mtime_ns
    first_other = sorted((tmp_path/'out/images').rglob('*.jpg'))[-1]
    first_other.unlink()
    prepare(sample_path(), tmp_path/'out', size=64, partners=4)
    assert first.stat().st_mtime_ns == stamp and first_other.exists()

def kaggle_tree(root:Path) -> Path:
    "A small Painter-by-Numbers layout: train_info.csv, train/, test/ from the sample (every 3rd work in test)."
    works = read_collection(sample_path())
    rows = []
    for i, (img, artist) in enumerate(zip(works.image, works.artist)):
        split = 'test' if i % 3 == 0 else 'train'
        (root/split).mkdir(parents=True, exist_ok=True)
        shutil.copy(img, root/split/f'{i}.jpg')
        rows.append(dict(new_filename=f'{i}.jpg', artist=artist, style='x', genre='portrait', title=f't{i}', date='1900',
                         in_train=str(split == 'train')))
    pd.DataFrame(rows).to_csv(root/'all_data_info.csv', index=False)
    return root

def test_kaggle_layout(tmp_path):
    src = kaggle_tree(tmp_path/'kaggle')
    summary = prepare(src, tmp_path/'out', size=64, partners=8, both_splits=True, artists=6, split_by='artist',
                      valid_pct=0.34, test_pct=0.34)
    works, pairs = check_prepared(tmp_path/'out', 64)
    assert works.artist.nunique() == 6
    assert {'original_split', 'genre', 'title', 'date'} <= set(works.columns)
    assert works.groupby('artist').split.nunique().max() == 1
    assert summary.loc['test', 'artists'] == 2

def test_train_info_only(tmp_path):
    src = kaggle_tree(tmp_path/'kaggle')
    info = pd.read_csv(src/'all_data_info.csv')
    info = info[info.in_train].rename(columns={'new_filename': 'filename'}).drop(columns='in_train')
    (src/'all_data_info.csv').unlink()
    info.to_csv(src/'train_info.csv', index=False)
    works = read_collection(src)
    assert len(works) == len(info) and all(Path(p).exists() for p in works.image)

@needs_shared
@pytest.mark.parametrize('form', ['images', 'labels.csv'])
def test_shared_artworks(tmp_path, form):
    src = SHARED/'data/artworks'/form
    before = tree_hashes(src) if src.is_dir() else None
    summary = prepare(src, tmp_path/'out', artists=6, size=64, partners=10)
    works, _ = check_prepared(tmp_path/'out', 64)
    assert works.artist.nunique() == 6 and summary.artists.max() == 6
    if before is not None: assert tree_hashes(src) == before

def test_duplicates_kept_in_one_split_and_listed(tmp_path):
    "A re-encoded copy stays in its original's split; a resized copy under an artist with fewer works is dropped; plain canvases stay."
    works = read_collection(sample_path())
    rows = [(img, artist) for artist in works.artist.unique()[:4] for img in works.image[works.artist == artist][:4]]
    (first, ann), (_, bob), (_, cy), (_, dee) = rows[0], rows.pop(4), rows[7], rows[11]   # Ann 4 works, Bob 3
    src = tmp_path/'copies'; src.mkdir()
    im = Image.open(first)
    im.save(src/'reencoded.jpg', quality=30)
    im.resize((im.width // 2, im.height // 2)).save(src/'resized.png')
    Image.new('RGB', (96, 80), (235, 233, 225)).save(src/'plain1.png')   # two near-white monochromes, one level apart:
    Image.new('RGB', (96, 80), (234, 232, 226)).save(src/'plain2.png')   # alike to a hash, yet two works
    rows += [(src/'reencoded.jpg', ann), (src/'resized.png', bob), (src/'plain1.png', cy), (src/'plain2.png', dee)]
    pd.DataFrame(rows, columns=['image', 'artist']).to_csv(tmp_path/'works.csv', index=False)
    name = lambda p: Path(p).name
    for seed in range(4):
        with pytest.warns(UserWarning, match='found 1 groups of duplicate images'):
            prepare(tmp_path/'works.csv', tmp_path/'out', size=64, partners=4, valid_pct=0.3, test_pct=0.3, seed=seed)
        dups = pd.read_csv(tmp_path/'out/duplicates.csv')
        assert dict(zip(dups.source.map(name), dups.action)) == {name(first): 'kept', 'reencoded.jpg': 'kept', 'resized.png': 'dropped'}
        assert dups.group.nunique() == 1
        works, pairs = check_prepared(tmp_path/'out', 64)
        split_of = dict(zip(works.source.map(name), works.split))
        assert split_of[name(first)] == split_of['reencoded.jpg'] and 'resized.png' not in split_of
        assert {'plain1.png', 'plain2.png'} <= set(split_of)
        copies = set(works.image[works.source.map(name).isin([name(first), 'reencoded.jpg'])])
        assert not any({a, b} == copies for a, b in zip(pairs.image1, pairs.image2))   # two copies of one work are never a pair
