"""The web page in a real browser (headless Chromium): two works show predict_pair's numbers, a corrupt upload a message,
one work its attribution against an index."""
import sys
from pathlib import Path
import pytest
from artmatch.data import sample_path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]/'tools'))
from page_screenshot import CHROMIUM, free_port, upload, text_once, image_once    # the README's picture is taken with the same helpers
pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"no Chromium at {CHROMIUM}: install Debian's chromium "
                                "(apt-get install chromium, as .ci/run does) or point ARTMATCH_CHROMIUM at a Chromium binary")
from playwright import sync_api     # the dev extra installs playwright and gradio: a missing one is a broken install, not a skip
from artmatch.app import serve
from artmatch.attribute import attribute
from artmatch.export import load_model
from artmatch.index import build_index
import io
import numpy as np
from PIL import Image
from artmatch.predict import predict_pair, describe_pair
from artmatch.explain import explain_pair, explanation_image, attribution_image

WORKS = sorted((sample_path()/'images').rglob('*.jpg'))
TIMEOUT_MS = 30_000

@pytest.fixture(scope='module')
def index(classifier_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('index')/'sample'
    build_index(classifier_run, sample_path(), out)
    return out

@pytest.fixture(scope='module')
def url(classifier_run, index):
    port = free_port()
    page = serve(classifier_run, index, port=port, block=False)
    yield f'http://127.0.0.1:{port}/'
    page.close()

@pytest.fixture
def tab(url):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        tab = browser.new_page(viewport={'width': 1200, 'height': 900})
        tab.set_default_timeout(TIMEOUT_MS)
        tab.goto(url)
        yield tab
        browser.close()

def test_two_works_then_a_corrupt_one(tab, classifier_run, index, tmp_path):
    a, b = WORKS[0], WORKS[30]
    upload(tab, 'upload_a', a)
    upload(tab, 'upload_b', b)
    answer = text_once(tab, 'answer', 'threshold')
    r = predict_pair(model=classifier_run, image_a=a, image_b=b)
    assert answer.strip() == describe_pair(r), answer               # what `artmatch predict` prints, to the 4 decimals shown
    why = Image.open(io.BytesIO(image_once(tab, 'why')))            # what `artmatch predict --explain` writes
    assert np.array_equal(np.asarray(why), np.asarray(explanation_image(explain_pair(model=classifier_run, image_a=a, image_b=b))))
    ranking = attribute(model=classifier_run, index=index, images=[a], top=3)   # with an index, the likely artists are attribution's
    shown = text_once(tab, 'artists_a', ranking.artist[0])
    assert ('None of these' in shown) == (not ranking.match.any()), shown     # the verdict of the one-work tab, not a heading
    assert all(f"{artist} {score:.4f}" in shown for artist, score in zip(ranking.artist, ranking.score)), shown   # scores, not %
    tab.screenshot(path=tmp_path/'two_works.png', full_page=True)
    assert (tmp_path/'two_works.png').stat().st_size > 10_000
    corrupt = tmp_path/'corrupt.jpg'
    corrupt.write_bytes(a.read_bytes()[:1500])                          # a JPEG cut short
    upload(tab, 'upload_b', corrupt)
    answer = text_once(tab, 'answer', '⚠️')
    assert 'work B: corrupt.jpg: cannot decode' in answer, answer
    assert 'Traceback' not in tab.content() and 'threshold' not in answer

def test_one_work_against_the_index(tab, classifier_run, index, tmp_path):
    tab.get_by_role('tab', name='One work: whose?').click()
    upload(tab, 'upload_one', WORKS[0])
    verdict = text_once(tab, 'verdict', 'likely artist', 'None of these')
    ranking = attribute(classifier_run, index, [WORKS[0]])
    assert ranking.artist[0] in verdict and f"{ranking.score[0]:.4f}" in verdict, verdict
    tab.wait_for_function("document.querySelectorAll('#nearest img').length >= 5")
    assert ranking.artist[1] in tab.inner_text('#ranking')
    why = Image.open(io.BytesIO(image_once(tab, 'why_one')))         # what `artmatch attribute --explain` writes
    picture = attribution_image(model=load_model(classifier_run), rows=ranking, threshold=ranking.attrs['threshold'])
    assert np.array_equal(np.asarray(why), np.asarray(picture))
    tab.screenshot(path=tmp_path/'one_work.png', full_page=True)
    assert (tmp_path/'one_work.png').stat().st_size > 10_000

def test_several_people_at_once(classifier_run):
    "Clients at once get predict_pair's answers (and artmatch's message for a corrupt upload); memory stays put."
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]/'benchmarks'))
    from page_load import load_test
    r = load_test(classifier_run, clients=4, requests=3)     # thumbnails fetched too, as a browser does
    assert not r['wrong'] and r['requests'] == 4 * (3 + 1) + 4, r['wrong']
    assert r['rss_after'] < 1.1 * r['rss_before'], (r['rss_before'], r['rss_after'])
