"""Write README.md from nbs/index.ipynb without quarto: markdown cells as they are, code cells as Python blocks.

`nbdev_readme` does the same through quarto, where quarto is installed. Run from the repository root:
`python tools/readme.py`.
"""
import json
from pathlib import Path

def cell_text(cell) -> str:
    src = ''.join(cell['source'])
    if cell['cell_type'] == 'markdown': return src
    lines = [l for l in src.splitlines() if not l.startswith('#|')]
    return '```python\n' + '\n'.join(lines) + '\n```' if lines else ''

def main(nb=Path('nbs/index.ipynb'), out=Path('README.md')):
    cells = json.loads(nb.read_text())['cells']
    hidden = lambda c: any(l.strip() in ('#| hide', '#|hide') for l in ''.join(c['source']).splitlines())
    text = '\n\n'.join(t for c in cells if not hidden(c) for t in [cell_text(c)] if t)
    out.write_text(text.rstrip() + '\n')

if __name__ == '__main__': main()
