"An index of a collection, attribution against it and verification against a set of works: on real features, and on bad input."
import json, shutil
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
from artmatch.data import sample_path
from artmatch.core import ArtmatchError, write_csv
from artmatch.models import build_model
from artmatch.export import save_model, load_model
from artmatch.scoring import score_pairs
from artmatch import attribute as A, index as I, scoring as S
from artmatch.cli import main

def tiny(approach='embedding', head=None, seed=0):
    "An untrained model of `approach` on 32-pixel crops."
    torch.manual_seed(seed)
    artists = ['a', 'b', 'c'] if approach == 'classifier' else None
    model = build_model(approach, 'squeezenet1_0', head, artists, pretrained=False)
    model.config['size'] = 32
    return model.eval()

@pytest.fixture
def collection(tmp_path) -> Path:
    "3 artist folders of 4 sample works each."
    for folder in sorted((sample_path()/'images').iterdir())[:3]:
        (tmp_path/'collection'/folder.name).mkdir(parents=True)
        for f in sorted(folder.iterdir())[:4]: shutil.copy(f, tmp_path/'collection'/folder.name)
    return tmp_path/'collection'

def test_adding_a_work_embeds_only_it(collection, tmp_path, monkeypatch):
    model, index = tiny(), tmp_path/'index'
    assert I.build_index(model, collection, index, chunk=5)['embedded'] == 12
    chunks = {f: f.read_bytes() for f in (index/'vectors').iterdir()}
    assert len(chunks) == 3                                       # 12 works, 5 a chunk
    new = collection/'new-artist'/'new.jpg'
    new.parent.mkdir()
    shutil.copy(sorted(sample_path().rglob('*.jpg'))[-1], new)          # a work of a fourth artist
    embedded = []
    real_embed = S.embed_images
    monkeypatch.setattr(S, 'embed_images', lambda m, paths, *args, **kwargs: embedded.append(list(paths))
                        or real_embed(m, paths, *args, **kwargs))
    assert I.build_index(model, collection, index) == dict(works=13, artists=4, embedded=1, skipped=0)
    assert embedded == [[str(new.resolve())]]
    assert all(f.read_bytes() == b for f, b in chunks.items())    # the old vectors are not rewritten
    assert 'new-artist' in set(pd.read_csv(index/'works.csv').artist)

def killed_at(monkeypatch, call:int|None) -> list:
    """Make embedding raise KeyboardInterrupt (as a kill stops a run) at its `call`-th call (None: never);
    returns the list to which each call adds its number of images."""
    calls, real_embed = [], S.embed_images
    def embed(m, paths, *args, **kwargs):
        calls.append(len(paths))
        if len(calls) == call: raise KeyboardInterrupt
        return real_embed(m, paths, *args, **kwargs)
    monkeypatch.setattr(S, 'embed_images', embed)
    return calls

def test_interrupted_build_keeps_finished_chunks(collection, tmp_path, monkeypatch):
    model, index = tiny(), tmp_path/'index'
    real_embed = S.embed_images
    killed_at(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt): I.build_index(model, collection, index, chunk=5)
    assert len(list((index/'vectors').iterdir())) == 2 and not (index/'works.csv').exists()
    with pytest.raises(ArtmatchError, match='unfinished index'): I.load_index(index, model)
    monkeypatch.setattr(S, 'embed_images', real_embed)
    assert I.build_index(model, collection, index, chunk=5)['embedded'] == 2    # the 10 done are kept
    assert len(I.load_index(index, model)) == 12

def test_index_of_another_model_is_refused(collection, tmp_path, capsys):
    run, other = save_model(tiny(seed=0), tmp_path/'run'), save_model(tiny(seed=1), tmp_path/'other')
    I.build_index(run, collection, tmp_path/'index')
    with pytest.raises(ArtmatchError, match='indexed with another model'): I.load_index(tmp_path/'index', other)
    with pytest.raises(ArtmatchError, match='indexed with another model'): I.build_index(other, collection, tmp_path/'index')
    with pytest.raises(SystemExit) as e: main(['attribute', str(other), str(next(collection.rglob('*.jpg'))), '--index', str(tmp_path/'index')])
    assert e.value.code == 1 and f"{tmp_path/'index'}: indexed with another model ({run.resolve()})" in capsys.readouterr().err
    (tmp_path/'notes').mkdir()
    (tmp_path/'notes'/'todo.txt').write_text('mine')
    with pytest.raises(ArtmatchError, match='not an artmatch index'): I.build_index(run, collection, tmp_path/'notes')

def test_bad_images_are_reported(collection, tmp_path, capsys):
    good = sorted(collection.rglob('*.jpg'))[0]
    corrupt = good.parent/'corrupt.jpg'
    corrupt.write_bytes(good.read_bytes()[:300])                   # a truncated JPEG
    run = save_model(tiny(), tmp_path/'run')
    assert I.build_index(run, collection, tmp_path/'index') == dict(works=12, artists=3, embedded=12, skipped=1)
    assert pd.read_csv(tmp_path/'index'/'skipped.csv').image.tolist() == [str(corrupt.resolve())]
    ranking = A.attribute(run, tmp_path/'index', [corrupt, tmp_path/'missing.jpg', good], top=2)
    assert ranking.image.tolist()[:2] == [str(corrupt), str(tmp_path/'missing.jpg')] and len(ranking) == 4
    assert 'no such image file' in ranking.error[1] and ranking['rank'].isna().tolist() == [True, True, False, False]
    with pytest.raises(SystemExit) as e:       # nothing could be attributed: an error, after each file's reason and the CSV
        main(['attribute', str(run), str(corrupt), '--index', str(tmp_path/'index'), '--out', str(tmp_path/'ranking.csv')])
    printed = capsys.readouterr()
    assert e.value.code == 1 and 'not attributed' in printed.out and 'none of the 1 images could be read' in printed.err
    assert len(pd.read_csv(tmp_path/'ranking.csv')) == 1
    model = tiny()
    model.config['verification'] = {'cosine': [1.0, 0.0, 0.5]}
    with pytest.raises(SystemExit) as e: main(['predict', str(save_model(model, tmp_path/'run')), str(corrupt), '--against', str(collection)])
    assert e.value.code == 1 and str(corrupt) in capsys.readouterr().err

def test_killed_scoring_resumes(collection, tmp_path, monkeypatch):
    "`score_csv` killed while embedding keeps its finished chunks; run again, it embeds the rest, then removes them."
    from artmatch.predict import score_csv
    model, out = tiny(), tmp_path/'scores.csv'
    images = sorted(str(p.relative_to(collection)) for p in collection.rglob('*.jpg'))
    pd.DataFrame({'image1': images[:-1], 'image2': images[1:]}).to_csv(tmp_path/'pairs.csv', index=False)
    real_embed = S.embed_images
    killed_at(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt): score_csv(model, tmp_path/'pairs.csv', out, images=collection, chunk=5)
    work = tmp_path/'.scores.csv.vectors'
    assert not out.exists() and len(S.chunk_files(next(work.iterdir()))) == 1
    monkeypatch.setattr(S, 'embed_images', real_embed)
    calls = killed_at(monkeypatch, None)
    assert score_csv(model, tmp_path/'pairs.csv', out, images=collection, chunk=5) == (11, 0)
    assert calls == [5, 2] and not work.exists()                  # the first 5 were kept
    direct, _ = score_pairs(model, [collection/p for p in images[:-1]], [collection/p for p in images[1:]])
    np.testing.assert_allclose(pd.read_csv(out).score, direct, atol=1e-5)
    for f in collection.rglob('*.jpg'): f.write_bytes(b'not a picture')       # no image readable: every pair skipped
    assert score_csv(model, tmp_path/'pairs.csv', out, images=collection) == (0, 11)
    assert pd.read_csv(out).score.isna().all() and len(pd.read_csv(tmp_path/'scores_skipped.csv')) == 12

@pytest.mark.parametrize('approach,head', [('embedding', None), ('classifier', None), ('siamese', 'concat'), ('siamese', 'symmetric')])
def test_scores_are_the_pair_scores(approach, head, collection, tmp_path):
    "Every approach: an artist's nearest work and its score are those `score_pairs` gives, and `max` is the best of them."
    model = tiny(approach, head)
    I.build_index(model, collection, tmp_path/'index')
    query = str(sorted(sample_path().rglob('*.jpg'))[-1])
    ranking = A.attribute(model, tmp_path/'index', [query], top=3, by='max')
    direct, _ = score_pairs(model, [query] * 3, ranking.nearest_work.tolist())
    np.testing.assert_allclose(ranking.nearest_score, direct, atol=1e-5)
    np.testing.assert_allclose(ranking.score, direct, atol=1e-5)
    works = pd.read_csv(tmp_path/'index'/'works.csv')
    every, _ = score_pairs(model, [query] * len(works), works.image.tolist())
    assert ranking.score[0] == pytest.approx(every.max(), abs=1e-5)

@pytest.fixture(scope='module')
def trained(imagenet_runs, prepared, tmp_path_factory):
    "The embedding model trained through the CLI with its defaults from ImageNet SqueezeNet (shared with the CLI and learning tests), and an index of the sample's training works."
    run, _ = imagenet_runs['embedding']
    out = tmp_path_factory.mktemp('attribution')
    works = pd.read_csv(prepared/'works.csv').assign(image=lambda d: [str(prepared/p) for p in d.image])
    write_csv(works[works.split == 'train'][['image', 'artist']], out/'train.csv')
    I.build_index(run, out/'train.csv', out/'index')
    return load_model(run), I.load_index(out/'index', run), works[works.split == 'test']

def test_attribution_beats_chance(trained):
    "Test works attributed against an index of the training works: the right artist first far more often than 1 in 8."
    model, index, test = trained
    ranking = A.attribute(model, index, test.image.tolist(), top=3)
    first = ranking[ranking['rank'] == 1].set_index('image')
    right = first.artist[test.image].to_numpy() == test.artist.to_numpy()
    assert right.mean() > 3 / 8, right.mean()                     # 8 artists: chance is 1/8
    top3 = ranking.groupby('image').artist.agg(set)[test.image]
    assert np.mean([a in s for a, s in zip(test.artist, top3)]) > 0.7

def test_verify_tells_the_right_artist(trained):
    "Test works against their own artist's indexed works and against another's: a higher probability for their own, and mostly right decisions."
    model, index, test = trained
    test = test.groupby('artist').head(2)
    others = dict(zip(index.artists, np.roll(index.artists, 1)))
    same = [A.verify(model, p, a, index=index) for p, a in zip(test.image, test.artist)]
    other = [A.verify(model, p, others[a], index=index) for p, a in zip(test.image, test.artist)]
    p_same, p_other = (np.array([v['probability'] for v in vs]) for vs in (same, other))
    assert np.mean(p_same > p_other) > 0.75, (p_same, p_other)
    right = [v['same_artist'] for v in same] + [not v['same_artist'] for v in other]
    assert np.mean(right) > 0.7, (p_same, p_other, same[0]['threshold'])

def test_command_line_and_python_agree(trained, imagenet_runs, tmp_path, capsys):
    "`index`, `attribute` and `predict --against` print what `build_index`, `attribute` and `verify` return on the same inputs."
    model, index, test = trained
    run, _ = imagenet_runs['embedding']
    collection = tmp_path/'train.csv'
    write_csv(index.works[['image', 'artist']], collection)
    main(['index', str(run), str(collection), '--out', str(tmp_path/'cli-index')])
    counts = I.build_index(model=run, collection=collection, out=tmp_path/'py-index')
    assert f"indexed {counts['works']} works by {counts['artists']} artists" in capsys.readouterr().out
    assert torch.equal(I.load_index(tmp_path/'cli-index', run).vectors.embeddings, I.load_index(tmp_path/'py-index', run).vectors.embeddings)
    queries = test.image.tolist()[:3]
    main(['attribute', str(run), *queries, '--index', str(tmp_path/'cli-index'), '--top', '2'])
    printed = capsys.readouterr().out
    ranking = A.attribute(model=model, index=tmp_path/'py-index', images=queries, top=2)
    for r in ranking.itertuples():
        assert f"  {r.rank}. {r.artist}: {r.score:.4f}{'  match' if r.match else ''}   nearest: {r.nearest_work} ({r.nearest_score:.4f})" in printed
    for _, rows in ranking.groupby('image'): assert f"  {A.verdict(rows, ranking.attrs['threshold'])}" in printed
    assert printed.count('None of these') == sum(not g.match.any() for _, g in ranking.groupby('image'))
    artist = test.artist.iloc[0]
    references = index.works.image[index.works.artist == artist].tolist()
    folder = tmp_path/'references'
    folder.mkdir()
    for p in references: (folder/Path(p).name).symlink_to(p)
    main(['predict', str(run), queries[0], '--against', str(folder)])
    printed = capsys.readouterr().out
    v = A.verify(model=model, image=queries[0], references=folder)
    assert f"P(by the artist of these {len(v['works'])} works): {v['probability']:.4f} (threshold {v['threshold']:.4f})" in printed

@pytest.mark.parametrize('approach', ['embedding', 'classifier'])
def test_search_finds_what_scoring_every_pair_finds(approach, monkeypatch):
    """FAISS's exact search gives the works and scores that scoring every pair gives, for every method (argmax, no inner
    product, scores every pair); so does the IVF index beyond `EXACT_SEARCH` when it searches all its lists;
    each listed artist's nearest work is its best."""
    from artmatch.scoring import Embeddings, SCORE_METHODS
    torch.manual_seed(0)
    n, model = 300, tiny(approach)
    works = pd.DataFrame({'image': [f'w{i}.jpg' for i in range(n)], 'artist': [f'a{i % 7}' for i in range(n)]})
    vectors = lambda m: (torch.randn(m, 24), torch.randn(m, 3).softmax(1), torch.nn.functional.normalize(torch.randn(m, 16)))
    index = I.WorkIndex(works, Embeddings(works.image, *vectors(n)[:2], {}, vectors(n)[2]), {})
    queries = Embeddings(['q0.jpg', 'q1.jpg'], *vectors(2)[:2], {}, vectors(2)[2])
    for method in SCORE_METHODS[approach]:
        every = A._against(model, queries, index.vectors, method)
        values, found = A._nearest(model, index, queries, method, 10)
        assert (index.search(model, method) is None) == (method == 'argmax')
        if method != 'argmax': assert torch.equal(found, every.topk(10, dim=1).indices)
        torch.testing.assert_close(values, every.gather(1, found), atol=1e-5, rtol=0)
        ranking = A.rank_artists(model, index, queries, top=3, method=method, threshold=0.5)
        for r in ranking.itertuples():
            span = slice(*index.spans[list(index.artists).index(r.artist)])
            named = index.works.image.tolist().index(r.nearest_work)      # the work it names, by position
            assert span.start <= named < span.stop                        # is the artist's, and its best (ties: argmax)
            assert float(every[int(r.image[1]), named]) == pytest.approx(float(every[int(r.image[1]), span].max()), abs=1e-5)
            assert r.nearest_score == pytest.approx(float(every[int(r.image[1]), named]), abs=1e-5)
    monkeypatch.setattr(I, 'EXACT_SEARCH', 100)
    search, scorer = I.WorkIndex(works, index.vectors, {}).search(model, SCORE_METHODS[approach][0])
    assert search.ivf is not None and search.ivf.nlist == int(np.sqrt(n))
    search.ivf.nprobe = search.ivf.nlist
    exact = I.VectorSearch(scorer.vectors[:0].new_zeros(0, 1))       # nothing indexed: nothing found
    assert exact.top(torch.zeros(2, 1), 5)[1].shape == (2, 0)
    values, found = search.top(scorer.vectors[:2], 10)
    direct = (scorer.vectors[:2] @ scorer.vectors.T).topk(10, dim=1)
    assert torch.equal(found, direct.indices)
    torch.testing.assert_close(values, direct.values, atol=1e-5, rtol=0)

def test_large_index_keeps_its_search_index(collection, tmp_path, monkeypatch):
    """Beyond `EXACT_SEARCH` works, `build_index` writes the IVF search index into the index folder; a loaded index reads
    it memory-mapped instead of building it again; a grown collection gets a new one in its place."""
    import faiss
    monkeypatch.setattr(I, 'EXACT_SEARCH', 8)
    model, folder = tiny(), tmp_path/'index'
    I.build_index(model, collection, folder)
    first = list(folder.glob('search-cosine-*.faiss'))
    assert len(first) == 1
    def no_training(*args): raise AssertionError('the IVF index was built again')
    with monkeypatch.context() as m:
        m.setattr(faiss, 'IndexIVFFlat', no_training)
        index = I.load_index(folder, model)
        search, scorer = index.search(model, 'cosine')
    search.ivf.nprobe = search.ivf.nlist                           # every list: exact
    values, found = search.top(scorer.vectors[:3], 4)
    direct = (scorer.vectors[:3] @ scorer.vectors.T).topk(4, dim=1)
    assert torch.equal(found, direct.indices)
    near = A.nearest_works(model, index, [index.works.image[0]], top=2)
    assert near.work[0] == index.works.image[0] and near.score[0] == pytest.approx(1, abs=1e-5)
    new = collection/'new-artist'/'new.jpg'
    new.parent.mkdir()
    shutil.copy(sorted(sample_path().rglob('*.jpg'))[-1], new)
    I.build_index(model, collection, folder)
    second = list(folder.glob('search-cosine-*.faiss'))
    assert len(second) == 1 and second != first
