"""Make the README's picture of the web page: the ready model answering two works of the bundled sample, in headless Chromium.

    python tools/page_screenshot.py        # writes docs/page.png (two works) and docs/page_one_work.png (one work, an index)

Indexes the bundled sample but the Sisley dropped on the one-work tab with the ready model (in a temporary folder), serves `artmatch app` on 127.0.0.1, drops two
works by Hokusai on the two-works tab and one by Sisley on the one-work tab, waits for the real answers and their
explanations and saves a screenshot of each. Needs Debian's `chromium` (or ARTMATCH_CHROMIUM) and playwright (the dev extra). The browser test
(`tests/test_app.py`) drives the page with the same helpers.
"""
import os, shutil, socket, tempfile
from pathlib import Path

CHROMIUM = Path(os.environ.get('ARTMATCH_CHROMIUM') or shutil.which('chromium') or '/usr/bin/chromium')
TIMEOUT_MS = 60_000

def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

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

def image_once(tab, elem_id:str) -> bytes:
    "The image that `elem_id` shows, as its file's bytes, once it is shown."
    tab.wait_for_function("id => { const im = document.querySelector(`#${id} img`); return im && im.naturalWidth > 0; }",
                          arg=elem_id)
    return tab.request.get(tab.locator(f'#{elem_id} img').get_attribute('src')).body()

def main(out=Path(__file__).resolve().parents[1]/'docs'):
    from playwright import sync_api
    import pandas as pd
    from artmatch.data import sample_path
    from artmatch.core import ready_model_path
    from artmatch.index import build_index
    from artmatch.app import serve
    works = pd.read_csv(sample_path()/'labels.csv')
    by = lambda artist, k: sample_path()/works.filename[works.artist == artist].iloc[k]
    folder = Path(tempfile.mkdtemp())
    query = by('Alfred Sisley', 2)          # not in the index: the one-work tab shows it against another work
    collection = works.assign(image=[str(sample_path()/p) for p in works.filename])
    collection[collection.image != str(query)][['image', 'artist']].to_csv(folder/'collection.csv', index=False)
    index = folder/'index'
    build_index(model=ready_model_path(), collection=folder/'collection.csv', out=index)
    port = free_port()
    page = serve(index=index, port=port, block=False)
    out.mkdir(exist_ok=True)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            tab = browser.new_page(viewport={'width': 1100, 'height': 900})
            tab.set_default_timeout(TIMEOUT_MS)
            tab.goto(f'http://127.0.0.1:{port}/')
            upload(tab, 'upload_a', by('Katsushika Hokusai', 0))
            upload(tab, 'upload_b', by('Katsushika Hokusai', 3))
            text_once(tab, 'answer', 'threshold')
            text_once(tab, 'artists_b', 'likely artist', 'None of these')
            image_once(tab, 'why')
            tab.screenshot(path=str(out/'page.png'), full_page=True)
            tab.get_by_role('tab', name='One work: whose?').click()
            upload(tab, 'upload_one', query)
            text_once(tab, 'verdict', 'likely artist', 'None of these')
            tab.wait_for_function("document.querySelectorAll('#nearest img').length >= 5")
            image_once(tab, 'why_one')
            tab.screenshot(path=str(out/'page_one_work.png'), full_page=True)
            browser.close()
    finally: page.close()
    print(f"wrote {out/'page.png'} and {out/'page_one_work.png'}")

if __name__ == '__main__': main()
