"""Make the quick-mode samples in data/quick from a full data folder.

    python data/make_quick_samples.py ../shared/data

AG News: the whole test split (7,600 items; torchnlp splits it again).
IMDb: 300 reviews per class from train and 150 per class from test, drawn
with a fixed seed. The book: the first 100,000 characters of its text.
ETTh1: the whole file, unchanged (its license, CC BY-ND 4.0, allows no edited
copies), with the license. CMUdict: every line of 6,000 words drawn with a
fixed seed (all pronunciations of a word), in the file's order, with the license.
"""

import csv
import gzip
import io
import random
import shutil
import sys
from pathlib import Path

source, target = Path(sys.argv[1]), Path(__file__).resolve().parent / "quick"


def imdb_sample(split, per_class):
    with gzip.open(source / "imdb" / f"{split}.csv.gz", "rt", encoding="utf-8", newline="") as f:
        header, *rows = csv.reader(f)
    rng = random.Random(0)
    sample = [r for label in ("neg", "pos") for r in rng.sample([r for r in rows if r[0] == label], per_class)]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows([header, *sample])
    (target / "imdb").mkdir(parents=True, exist_ok=True)
    (target / "imdb" / f"{split}.csv.gz").write_bytes(gzip.compress(buffer.getvalue().encode(), mtime=0))


(target / "ag_news").mkdir(parents=True, exist_ok=True)
shutil.copyfile(source / "ag_news" / "test.csv.gz", target / "ag_news" / "test.csv.gz")
imdb_sample("train", 300)
imdb_sample("test", 150)
book = (source / "mysterious_island" / "1268-0.txt").read_text(encoding="utf-8")
start = book.find("THE MYSTERIOUS ISLAND")
(target / "mysterious_island").mkdir(parents=True, exist_ok=True)
(target / "mysterious_island" / "1268-0.txt").write_text(
    book[start : start + 100_000] + "End of the Project Gutenberg EBook of The Mysterious Island, by Jules Verne\n",
    encoding="utf-8",
)

(target / "ett").mkdir(parents=True, exist_ok=True)
for name in ("ETTh1.csv", "LICENSE"):
    shutil.copyfile(source / "ett" / name, target / "ett" / name)

(target / "cmudict").mkdir(parents=True, exist_ok=True)
lines = (source / "cmudict" / "cmudict.dict").read_text(encoding="utf-8").splitlines(keepends=True)
words = sorted({line.split()[0].split("(")[0] for line in lines})
chosen = set(random.Random(0).sample(words, 6000))
(target / "cmudict" / "cmudict.dict").write_text(
    "".join(line for line in lines if line.split()[0].split("(")[0] in chosen), encoding="utf-8"
)
shutil.copyfile(source / "cmudict" / "LICENSE", target / "cmudict" / "LICENSE")
