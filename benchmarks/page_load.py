"""The web page under load: several people at once, on 127.0.0.1 only, bounded in count and time.

    python benchmarks/page_load.py                     # the ready model, 8 clients x 10 pair requests, plus corrupt uploads
    python benchmarks/page_load.py --clients 2 --requests 3

Starts `artmatch app` (`serve`) in this process on a free port of 127.0.0.1, warms it up with one request per client at
once, then runs CLIENTS threads at once,
each with its own `gradio_client.Client` sending REQUESTS pairs of the bundled sample's works to the page's `/compare`
endpoint and then to `/explain` (the picture, which a browser asks for once the answer is shown), the same calls a
browser's uploads make, and one truncated JPEG. Every answer is compared with `predict_pair`'s, as `describe_pair` prints
it to 4 decimals, and every picture must be a readable image; a corrupt upload's right answer is artmatch's message and no
picture. Prints the count of failed or wrong answers, p50 and p95 latency of the answer and of the picture after it,
requests per second, and the resident memory of the process (server and clients) after warm-up and at the end, each read
after freed heap memory is handed back (`release_freed_memory`).
"""
import argparse, random, socket, statistics, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from PIL import Image
from artmatch.data import sample_path
from artmatch.app import serve, CONCURRENT
from artmatch.export import load_model
from artmatch.predict import predict_pair, describe_pair
from artmatch.train import release_freed_memory

def resident_mb() -> float:
    "This process's resident memory, from /proc (Linux)."
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith('VmRSS:'): return int(line.split()[1]) / 1024
    return float('nan')

def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

def load_test(run, clients:int, requests:int, timeout:float=120.0, seed:int=0, thumbnails:bool=True) -> dict:
    "Serve `run`'s page and send it `clients` x `requests` pair requests at once, plus a corrupt upload per client (`thumbnails`: fetched too, as a browser does)."
    from gradio_client import Client, handle_file
    works = sorted((sample_path()/'images').rglob('*.jpg'))
    corrupt = Path(tempfile.mkdtemp())/'corrupt.jpg'
    corrupt.write_bytes(works[0].read_bytes()[:1500])              # a JPEG cut short
    model = load_model(run)
    rng = random.Random(seed)
    jobs = [[tuple(rng.sample(works, 2)) for _ in range(requests)] + [(works[0], corrupt)] for _ in range(clients)]
    expected = {pair: f"**{describe_pair(predict_pair(model=model, image_a=pair[0], image_b=pair[1]))}**"
                for job in jobs for pair in job if pair[1] != corrupt}
    port = free_port()
    page = serve(run=run, port=port, block=False)
    url = f'http://127.0.0.1:{port}/'
    try:
        latencies, pictured, wrong, lock = [], [], [], threading.Lock()
        def client(job):
            c = Client(url, verbose=False, download_files=tempfile.mkdtemp() if thumbnails else False)
            for a, b in job:
                start = time.time()
                try: answer = c.submit(handle_file(str(a)), handle_file(str(b)), api_name='/compare').result(timeout=timeout)[0]
                except Exception as e: answer = f"request failed: {type(e).__name__}: {e}"
                answered = time.time()
                try:
                    picture = c.submit(handle_file(str(a)), handle_file(str(b)), api_name='/explain').result(timeout=timeout)
                    drawn = (picture is None) if b == corrupt else (picture is not None and
                                                                    (not thumbnails or Image.open(picture).width > 0))
                except Exception as e: drawn, answer = False, f"{answer}; picture failed: {type(e).__name__}: {e}"
                ok = answer.startswith('⚠️ work B: corrupt.jpg: cannot decode') if b == corrupt else answer == expected[(a, b)]
                with lock:
                    latencies.append(answered - start)
                    pictured.append(time.time() - answered)
                    if not (ok and drawn): wrong.append((a.name, b.name, answer))
        with ThreadPoolExecutor(clients) as pool: list(pool.map(client, [job[:1] for job in jobs]))   # warm-up: one round at full concurrency
        release_freed_memory()
        before = resident_mb()
        latencies.clear(), pictured.clear()        # the warm-up's wrong answers still count
        start = time.time()
        with ThreadPoolExecutor(clients) as pool: list(pool.map(client, jobs))
        seconds = time.time() - start
        release_freed_memory()
        after = resident_mb()
    finally: page.close()
    q, qp = statistics.quantiles(latencies, n=20), statistics.quantiles(pictured, n=20)
    return dict(requests=len(latencies) + clients, wrong=wrong, p50=statistics.median(latencies), p95=q[18],
                picture_p50=statistics.median(pictured), picture_p95=qp[18], per_second=len(latencies) / seconds,
                rss_before=before, rss_after=after)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--run', type=Path, default=None, help='model folder (default: the ready model)')
    p.add_argument('--clients', type=int, default=8)
    p.add_argument('--requests', type=int, default=10)
    a = p.parse_args()
    r = load_test(a.run, a.clients, a.requests)
    print(f"| clients x pair requests (+1 corrupt each) | failed or wrong | answer p50 s | answer p95 s | "
          f"then picture p50 s | picture p95 s | requests/s | RSS after warm-up MB | RSS at end MB |\n"
          f"|---|---|---|---|---|---|---|---|---|\n"
          f"| {a.clients} x {a.requests} | {len(r['wrong'])} of {r['requests']} | {r['p50']:.2f} | {r['p95']:.2f} | "
          f"{r['picture_p50']:.2f} | {r['picture_p95']:.2f} | "
          f"{r['per_second']:.2f} | {r['rss_before']:.0f} | {r['rss_after']:.0f} |\n\n"
          f"The page serves {CONCURRENT} requests at once (Gradio's queue); 2 CPU cores, torch's default threads.")
    for w in r['wrong']: print('wrong:', w)

if __name__ == '__main__': main()
