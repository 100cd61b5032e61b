"""The web page in a real browser (headless Chromium): two works show predict_pair's numbers, a corrupt upload a message,
one work its attribution against an index."""
import os, shutil, socket
from pathlib import Path
import pytest
from artmatch.data import sample_path

CHROMIUM = Path(os.environ.get('ARTMATCH_CHROMIUM') or shutil.which('chromium') or '/usr/bin/chromium')
pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"no Chromium at {CHROMIUM}: install Debian's chromium "
                                "(apt-get install chromium, as .ci/run does) or point ARTMATCH_CHROMIUM at a Chromium binary")
from playwright import sync_api     # the dev extra installs playwright and gradio: a missing one is a broken install, not a skip
from artmatch.app import serve
from artmatch.attribute import attribute, build_index
from artmatch.export import predict_pair

WORKS = sorted((sample_path()/'images').rglob('*.jpg'))
TIMEOUT_MS = 30_000

def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

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

def upload(tab, elem_id:str, path) -> None:
    "Drop the file `path` on the upload `elem_id`, clearing what it held."
    clear = tab.locator(f'#{elem_id} button[aria-label="Clear"]')
    if clear.count(): clear.click()
    tab.set_input_files(f'#{elem_id} input[type=file]', str(path))

def text_once(tab, elem_id:str, *any_of:str) -> str:
    "The text of `elem_id` once it holds one of `any_of`."
    tab.wait_for_function("([id, words]) => words.some(w => document.getElementById(id).innerText.includes(w))",
                          arg=[elem_id, list(any_of)])
    return tab.inner_text(f'#{elem_id}')

def test_two_works_then_a_corrupt_one(tab, classifier_run, index, tmp_path):
    a, b = WORKS[0], WORKS[30]
    upload(tab, 'upload_a', a)
    upload(tab, 'upload_b', b)
    answer = text_once(tab, 'answer', 'P(same artist)')
    r = predict_pair(classifier_run, a, b)
    assert f"P(same artist): {r['score']:.4f}" in answer and f"threshold {r['threshold']:.4f}" in answer, answer
    assert ('same artist' if r['same_artist'] else 'different artists') in answer
    best = attribute(classifier_run, index, [a], top=3).artist[0]        # with an index, the likely artists are attribution's
    shown = text_once(tab, 'artists_a', best).splitlines()     # its label, the best artist, then each with its score
    assert shown[1] == best, shown
    tab.screenshot(path=tmp_path/'two_works.png', full_page=True)
    assert (tmp_path/'two_works.png').stat().st_size > 10_000
    corrupt = tmp_path/'corrupt.jpg'
    corrupt.write_bytes(a.read_bytes()[:1500])                          # a JPEG cut short
    upload(tab, 'upload_b', corrupt)
    answer = text_once(tab, 'answer', '⚠️')
    assert 'work B: corrupt.jpg: cannot decode' in answer, answer
    assert 'Traceback' not in tab.content() and 'P(same artist)' not in answer

def test_one_work_against_the_index(tab, classifier_run, index):
    tab.get_by_role('tab', name='One work: whose?').click()
    upload(tab, 'upload_one', WORKS[0])
    verdict = text_once(tab, 'verdict', 'likely artist', 'None of these')
    ranking = attribute(classifier_run, index, [WORKS[0]])
    assert ranking.artist[0] in verdict and f"{ranking.score[0]:.4f}" in verdict, verdict
    tab.wait_for_function("document.querySelectorAll('#nearest img').length >= 5")
    assert ranking.artist[1] in tab.inner_text('#ranking')
