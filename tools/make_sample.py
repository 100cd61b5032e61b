"""Build `artmatch/sample/`, the bundled default data, from the shared WikiArt set.

Run from the repository root: `python tools/make_sample.py ../shared/data/artworks`.
Takes 25 works of each of 8 artists (random, seed 0), copies the files unchanged and
writes `labels.csv` (filename, artist, title, date, style) beside them.
"""
import csv, random, shutil, sys
from pathlib import Path

ARTISTS = ['Alfred Sisley', 'Camille Pissarro', 'Berthe Morisot', 'Paul Signac',
           'Katsushika Hokusai', 'Roy Lichtenstein', 'Salvador Dali', 'Thomas Gainsborough']
WORKS_PER_ARTIST = 25

def main(src, dest=Path('artmatch/sample')):
    src = Path(src)
    rows = list(csv.DictReader(open(src/'labels.csv', encoding='utf-8')))
    rng = random.Random(0)
    kept = []
    for artist in ARTISTS:
        works = sorted((r for r in rows if r['artist'] == artist), key=lambda r: r['filename'])
        kept += sorted(rng.sample(works, WORKS_PER_ARTIST), key=lambda r: r['filename'])
    for r in kept:
        (dest/r['filename']).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src/r['filename'], dest/r['filename'])
    cols = ['filename', 'artist', 'title', 'date', 'style']
    with open(dest/'labels.csv', 'w', newline='', encoding='utf-8') as f:
        w = csv.DictWriter(f, cols, extrasaction='ignore')
        w.writeheader(); w.writerows(kept)

if __name__ == '__main__': main(sys.argv[1])
