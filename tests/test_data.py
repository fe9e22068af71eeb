"""Data loading: quick mode, the shared data folder, the cache, and real downloads from a local server."""

import csv
import gzip
import hashlib
import http.server
import io
import tarfile
import threading
import time

import pytest

import torchnlp

BOOK = "mysterious_island/1268-0.txt"


# -- quick mode: small real samples shipped in the repository, no network


def test_quick_loaders_work_offline_without_data_folder(quick):
    train, test, classes, vocab = torchnlp.load_dataset("ag_news")
    assert (len(train), len(test)) == (6000, 1600)
    assert classes == ["World", "Sports", "Business", "Sci/Tech"]
    assert {label for label, _ in train + test} == {0, 1, 2, 3}
    assert vocab.itos[:2] == ["<pad>", "<unk>"]
    train, test, classes, vocab = torchnlp.load_dataset("imdb")
    assert (len(train), len(test)) == (600, 300)
    assert classes == ["neg", "pos"]
    assert sum(label for label, _ in train) == 300
    book = torchnlp.load_book()
    assert len(book) == 100_000 and book.startswith("THE MYSTERIOUS ISLAND")


def test_quick_ag_news_split_is_fixed_and_disjoint(quick):
    train, test = torchnlp.load_ag_news("train"), torchnlp.load_ag_news("test")
    assert train == torchnlp.load_ag_news("train")
    assert not {text for _, text in train} & {text for _, text in test}


def test_quick_mode_values(monkeypatch):
    for value, quick in [
        ("1", True),
        ("true", True),
        ("YES", True),
        (" on ", True),
        ("", False),
        ("0", False),
        ("false", False),
        ("No", False),
        ("off", False),
    ]:
        monkeypatch.setenv("TORCHNLP_QUICK", value)
        assert torchnlp.quick_mode() is quick
    monkeypatch.delenv("TORCHNLP_QUICK")
    assert torchnlp.quick_mode() is False
    monkeypatch.setenv("TORCHNLP_QUICK", "quick")
    with pytest.raises(ValueError, match="TORCHNLP_QUICK must be 1 .* or 0"):
        torchnlp.quick_mode()


def test_quick_ag_news_items_are_title_and_description(quick):
    rows = torchnlp.read_csv("ag_news/test.csv")
    items = torchnlp.load_ag_news("train") + torchnlp.load_ag_news("test")
    assert sorted(items) == sorted((int(r[0]) - 1, r[1] + " " + r[2]) for r in rows)  # every row once
    assert torchnlp.load_ag_news("test")[0] == (  # the split of the committed outputs (shuffled with seed 0)
        2,
        "Stocks Up as Oil Slides  NEW YORK (Reuters) - U.S. stocks jumped on Wednesday as oil  prices, which have "
        "held investor enthusiasm for stocks in check  for months, fell sharply after a higher-than-expected crude  "
        "build last week.",
    )


def test_quick_mode_never_downloads_a_missing_sample(quick, monkeypatch, tmp_path):
    monkeypatch.setattr(torchnlp, "QUICK_DIR", tmp_path / "no-samples")
    with pytest.raises(torchnlp.DataError, match="quick mode: the sample .*1268-0.txt is missing"):
        torchnlp.load_book()
    assert not (tmp_path / "cache").exists()


def test_load_dataset_builds_the_vocabulary_on_the_train_split(quick):
    train, _, _, vocab = torchnlp.load_dataset("imdb", min_freq=3)
    assert vocab.itos == torchnlp.Vocab.build([t for _, t in train], min_freq=3).itos
    _, _, _, vocab = torchnlp.load_dataset("imdb", max_tokens=500)
    assert vocab.itos == torchnlp.Vocab.build([t for _, t in train], max_tokens=500).itos
    _, _, _, everything = torchnlp.load_dataset("imdb")
    assert everything.itos == torchnlp.Vocab.build([t for _, t in train]).itos


def test_data_folders_in_order(quick, monkeypatch, tmp_path):
    assert torchnlp.data_folders() == [torchnlp.QUICK_DIR]
    monkeypatch.delenv("TORCHNLP_QUICK")
    assert torchnlp.data_folders() == [tmp_path / "cache" / "torchnlp"] == [torchnlp.cache_dir()]
    monkeypatch.setenv("TORCHNLP_DATA", str(tmp_path))
    assert torchnlp.data_folders() == [tmp_path, tmp_path / "cache" / "torchnlp"]


def test_unknown_names_raise(quick):
    with pytest.raises(ValueError, match="unknown data set 'mnist'"):
        torchnlp.load_dataset("mnist")
    with pytest.raises(ValueError, match="split"):
        torchnlp.load_imdb("validation")
    with pytest.raises(ValueError, match="unknown data file"):
        torchnlp.find_data_file("imdb/unsup.csv")


# -- full mode, with TORCHNLP_DATA pointing at the shared data folder


def test_full_imdb_and_book(full):
    train, test, classes, vocab = torchnlp.load_dataset("imdb")
    assert (len(train), len(test)) == (25000, 25000)
    assert sum(label for label, _ in train) == sum(label for label, _ in test) == 12500
    assert any(text.startswith("I rented I AM CURIOUS-YELLOW") and label == 0 for label, text in train)
    book = torchnlp.load_book()
    assert (len(book), len(set(book))) == (1_112_350, 80)
    assert book.startswith("THE MYSTERIOUS ISLAND")


def test_full_ag_news_without_train_split_fails_clearly(full):
    assert len(torchnlp.load_ag_news("test")) == 7600
    with pytest.raises(torchnlp.DataError) as error:
        torchnlp.load_dataset("ag_news")
    message = str(error.value)
    assert "AG News' train split (ag_news/train.csv)" in message
    assert torchnlp.AG_NEWS_URL + "train.csv" in message
    assert str(torchnlp.cache_dir() / "ag_news" / "train.csv") in message
    assert "TORCHNLP_DATA" in message


def test_data_folder_comes_before_cache(full, monkeypatch, tmp_path):
    # A corrupt copy in the cache is never read while TORCHNLP_DATA has a good one...
    cached = torchnlp.cache_dir() / BOOK
    cached.parent.mkdir(parents=True)
    cached.write_text("THE MYSTERIOUS ISLAND corrupt End of the Project Gutenberg")
    assert len(torchnlp.load_book()) == 1_112_350
    # ...and is refused, not used, once the data folder lacks the file.
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("TORCHNLP_DATA", str(tmp_path / "empty"))
    assert torchnlp.find_data_file(BOOK) == cached
    with pytest.raises(torchnlp.DataError, match="does not match its checksum"):
        torchnlp.load_book()


def book_folder(folder):
    """A data folder holding the quick sample of the book (its sha256 set as the expected one by the caller)."""
    (folder / "mysterious_island").mkdir(parents=True)
    (folder / BOOK).write_bytes((torchnlp.QUICK_DIR / BOOK).read_bytes())
    return folder


def expect_sample_book(monkeypatch, url="http://127.0.0.1:9/none"):
    content = (torchnlp.QUICK_DIR / BOOK).read_bytes()
    monkeypatch.setitem(torchnlp.DATA_FILES, BOOK, ("the book", url, sha256(content), len(content)))


def test_full_ag_news_from_a_data_folder(no_data, monkeypatch, tmp_path):
    content = b'"3","Wall St. Bears","Short-sellers are back."\n"1","Talks","A ""quoted"" word, a comma."\n'
    (tmp_path / "data" / "ag_news").mkdir(parents=True)
    (tmp_path / "data" / "ag_news" / "test.csv").write_bytes(content)
    monkeypatch.setenv("TORCHNLP_DATA", str(tmp_path / "data"))
    monkeypatch.setitem(
        torchnlp.DATA_FILES, "ag_news/test.csv", ("AG News", "http://127.0.0.1:9/", sha256(content), 99)
    )
    assert torchnlp.load_ag_news("test") == [
        (2, "Wall St. Bears Short-sellers are back."),
        (0, 'Talks A "quoted" word, a comma.'),
    ]


def test_book_without_its_end_marker_raises(no_data, monkeypatch, tmp_path):
    content = b"preface\r\nTHE MYSTERIOUS ISLAND\r\nline\rline\r\nEnd of the Project Gutenberg\r\nlicense"
    (tmp_path / "data" / "mysterious_island").mkdir(parents=True)
    (tmp_path / "data" / BOOK).write_bytes(content)
    monkeypatch.setenv("TORCHNLP_DATA", str(tmp_path / "data"))
    monkeypatch.setitem(torchnlp.DATA_FILES, BOOK, ("the book", "http://127.0.0.1:9/", sha256(content), 99))
    assert torchnlp.load_book() == "THE MYSTERIOUS ISLAND\nline\nline\n"  # universal newlines
    cut = content.replace(b"End of the Project", b"")
    (tmp_path / "data" / BOOK).write_bytes(cut)
    monkeypatch.setitem(torchnlp.DATA_FILES, BOOK, ("the book", "http://127.0.0.1:9/", sha256(cut), 99))
    with pytest.raises(torchnlp.DataError, match="markers"):
        torchnlp.load_book()


def test_a_copy_that_fails_its_checksum_is_refused(no_data, monkeypatch, tmp_path, offline):
    folder = book_folder(tmp_path / "data")
    monkeypatch.setenv("TORCHNLP_DATA", str(folder))
    expect_sample_book(monkeypatch)
    assert len(torchnlp.load_book()) == 100_000
    (folder / BOOK).write_bytes((folder / BOOK).read_bytes()[:-1])  # one byte short
    with pytest.raises(torchnlp.DataError, match="does not match its checksum .*delete it to download it again"):
        torchnlp.load_book()


def test_torchnlp_data_expands_the_home_folder(no_data, monkeypatch, tmp_path, offline):
    book_folder(tmp_path / "home" / "mydata")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TORCHNLP_DATA", "~/mydata")
    expect_sample_book(monkeypatch)
    assert len(torchnlp.load_book()) == 100_000


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_torchnlp_data_that_is_not_a_folder_raises_instead_of_downloading(kind, no_data, monkeypatch, tmp_path):
    value = tmp_path / "shared" / "dat"  # a typo of .../data
    if kind == "file":
        value.parent.mkdir()
        value.write_text("not a folder")
    monkeypatch.setenv("TORCHNLP_DATA", str(value))
    expect_sample_book(monkeypatch, url="http://127.0.0.1:9/never-asked")
    with pytest.raises(torchnlp.DataError) as error:
        torchnlp.load_book()
    message = str(error.value)
    assert f"TORCHNLP_DATA is set to '{value}'" in message and "not a folder" in message
    assert "could not be downloaded" not in message and not no_data.exists()


GOOD_GZ = gzip.compress(b"label,text\nneg,bad\n" * 2000)


@pytest.mark.parametrize(
    "content",
    [GOOD_GZ[: len(GOOD_GZ) // 2], b"not gzip at all", GOOD_GZ[:40] + b"\xff" * 20 + GOOD_GZ[60:]],
    ids=["truncated", "not-gzip", "corrupt-deflate"],
)
@pytest.mark.parametrize("where", ["data folder", "cache"])
def test_corrupt_gz_file_raises_data_error_naming_it(content, where, no_data, monkeypatch, tmp_path, offline):
    folder = tmp_path / "data" if where == "data folder" else no_data
    path = folder / "imdb" / "test.csv.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    if where == "data folder":
        monkeypatch.setenv("TORCHNLP_DATA", str(folder))
    with pytest.raises(torchnlp.DataError, match="truncated or corrupt") as error:
        torchnlp.load_imdb("test")
    assert str(path) in str(error.value) and "delete it" in str(error.value)


def test_gzipped_copy_is_read_and_checked(no_data, monkeypatch, tmp_path):
    folder = tmp_path / "data"
    (folder / "mysterious_island").mkdir(parents=True)
    content = (torchnlp.QUICK_DIR / BOOK).read_bytes()
    (folder / (BOOK + ".gz")).write_bytes(gzip.compress(content))
    monkeypatch.setenv("TORCHNLP_DATA", str(folder))
    expect_sample_book(monkeypatch)
    assert torchnlp.read_data_file(BOOK) == content
    assert len(torchnlp.load_book()) == 100_000


# -- downloads, against an HTTP server on 127.0.0.1


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    routes = {}  # path -> (body, bytes actually sent), or a function that answers the request

    def do_GET(self):
        if self.path not in self.routes:
            self.send_error(404)
            return
        self.close_connection = True
        route = self.routes[self.path]
        try:
            if callable(route):
                route(self)
                return
            body, sent = route
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:sent])  # fewer bytes than announced = an interrupted transfer
        except (BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
            pass

    def log_message(self, *args):
        pass


def answer(body, length="auto", chunks=1, pause=0.0):
    """A route that sends ``body`` with a ``Content-Length`` header of ``length`` (None: no header)."""

    def route(handler):
        handler.send_response(200)
        if length is not None:
            handler.send_header("Content-Length", str(len(body) if length == "auto" else length))
        handler.end_headers()
        step = max(1, -(-len(body) // chunks))
        for i in range(0, len(body), step):
            handler.wfile.write(body[i : i + step])
            handler.wfile.flush()
            time.sleep(pause)

    return route


def zeros(size, announce):
    """A route that streams ``size`` zero bytes, announcing them in ``Content-Length`` or not."""

    def route(handler):
        handler.send_response(200)
        if announce:
            handler.send_header("Content-Length", str(size))
        handler.end_headers()
        for _ in range(size >> 16):
            handler.wfile.write(bytes(1 << 16))

    return route


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Handler.routes = {}
    yield Handler.routes, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def leftovers(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_download_success(server, tmp_path):
    routes, base = server
    body = (torchnlp.QUICK_DIR / BOOK).read_bytes()
    routes["/book.txt"] = (body, len(body))
    target = tmp_path / "dl" / "book.txt"
    torchnlp.download(base + "/book.txt", target, sha256=sha256(body))
    assert target.read_bytes() == body
    assert leftovers(tmp_path) == ["book.txt"]


def test_download_wrong_checksum_leaves_no_file(server, tmp_path):
    routes, base = server
    routes["/book.txt"] = (b"not the book", 12)
    with pytest.raises(torchnlp.DataError, match="checksum"):
        torchnlp.download(base + "/book.txt", tmp_path / "book.txt", sha256="0" * 64)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("algorithm", ["md5", "sha256"])
def test_download_checks_the_md5_or_the_sha256(algorithm, server, tmp_path):
    routes, base = server
    body = b"the archive"
    routes["/a.tar.gz"] = (body, len(body))
    right = hashlib.new(algorithm, body).hexdigest()
    wrong = hashlib.new(algorithm, b"another archive").hexdigest()
    with pytest.raises(torchnlp.DataError, match=rf"does not match its checksum \({algorithm} {wrong} expected"):
        torchnlp.download(base + "/a.tar.gz", tmp_path / "a.tar.gz", **{algorithm: wrong})
    assert leftovers(tmp_path) == []
    torchnlp.download(base + "/a.tar.gz", tmp_path / "a.tar.gz", **{algorithm: right})
    assert (tmp_path / "a.tar.gz").read_bytes() == body


def test_imdb_archive_with_a_wrong_md5_is_refused_and_leaves_nothing(server, no_data, monkeypatch):
    serve_imdb(server, monkeypatch)
    monkeypatch.setattr(torchnlp, "IMDB_MD5", hashlib.md5(b"another archive").hexdigest())
    with pytest.raises(torchnlp.DataError, match="IMDb .* could not be downloaded .*does not match its checksum"):
        torchnlp.load_imdb("train")
    assert leftovers(no_data) == []


@pytest.mark.parametrize("announce", [True, False])
def test_download_of_exactly_max_bytes_succeeds_and_one_more_is_refused(announce, server, tmp_path):
    routes, base = server
    body = b"x" * 1000
    routes["/a"] = answer(body, length="auto" if announce else None)
    digest = sha256(body)  # without Content-Length, only a checksum tells a whole body from a cut one
    torchnlp.download(base + "/a", tmp_path / "a", sha256=digest, max_bytes=1000)
    assert (tmp_path / "a").read_bytes() == body
    with pytest.raises(torchnlp.DataError, match="more than the 999 (bytes )?expected at most"):
        torchnlp.download(base + "/a", tmp_path / "b", sha256=digest, max_bytes=999)
    assert leftovers(tmp_path) == ["a"]


def test_download_interrupted_leaves_no_file(server, tmp_path):
    routes, base = server
    body = (torchnlp.QUICK_DIR / BOOK).read_bytes()
    routes["/book.txt"] = (body, len(body) // 2)
    with pytest.raises(torchnlp.DataError, match="interrupted"):
        torchnlp.download(base + "/book.txt", tmp_path / "book.txt")  # no checksum: the length still catches it
    assert leftovers(tmp_path) == []


def test_missing_file_is_downloaded_into_cache_once(server, no_data, monkeypatch):
    routes, base = server
    body = (torchnlp.QUICK_DIR / BOOK).read_bytes()
    routes["/1268-0.txt"] = (body, len(body))
    monkeypatch.setitem(torchnlp.DATA_FILES, BOOK, ("the book", base + "/1268-0.txt", sha256(body), len(body)))
    assert len(torchnlp.load_book()) == 100_000
    assert (no_data / BOOK).read_bytes() == body
    routes.clear()  # the second load reads the cache
    assert len(torchnlp.load_book()) == 100_000


def test_server_gone_gives_clear_offline_error(no_data, monkeypatch):
    # Nothing listens on port 9 of 127.0.0.1: the connection is refused, as offline.
    monkeypatch.setitem(
        torchnlp.DATA_FILES, BOOK, ("The Mysterious Island", "http://127.0.0.1:9/1268-0.txt", "0" * 64, 1000)
    )
    with pytest.raises(torchnlp.DataError) as error:
        torchnlp.load_book()
    message = str(error.value)
    assert f"The Mysterious Island ({BOOK}) is not in" in message
    assert "http://127.0.0.1:9/1268-0.txt" in message and str(no_data / BOOK) in message
    assert leftovers(no_data.parent) == []


def test_slow_drip_stops_at_the_deadline(server, tmp_path):
    routes, base = server
    routes["/drip"] = answer(b"x" * 100, chunks=100, pause=0.2)  # 20 s in all, a byte every 0.2 s
    start = time.monotonic()
    with pytest.raises(torchnlp.DataError, match="took more than 1 s"):
        torchnlp.download(base + "/drip", tmp_path / "book.txt", deadline=1)
    assert time.monotonic() - start < 5
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("announce", [True, False])
def test_body_larger_than_expected_is_refused_early(announce, server, no_data, monkeypatch):
    routes, base = server
    routes["/huge"] = zeros(64 << 20, announce)
    body = (torchnlp.QUICK_DIR / BOOK).read_bytes()
    monkeypatch.setitem(torchnlp.DATA_FILES, BOOK, ("the book", base + "/huge", sha256(body), len(body)))
    with pytest.raises(torchnlp.DataError, match="announces 67108864 bytes" if announce else "sent more than"):
        torchnlp.load_book()
    assert leftovers(no_data.parent) == []


@pytest.mark.parametrize("length", ["abc", "-5", None], ids=["unparsable", "negative", "absent"])
def test_odd_content_length_still_downloads_a_good_file(length, server, tmp_path):
    routes, base = server
    body = (torchnlp.QUICK_DIR / BOOK).read_bytes()
    routes["/book.txt"] = answer(body, length=length)
    torchnlp.download(base + "/book.txt", tmp_path / "book.txt", sha256=sha256(body))
    assert (tmp_path / "book.txt").read_bytes() == body


def bad_status_line(handler):
    handler.wfile.write(b"GARBAGE\r\n\r\n")


def broken_chunks(handler):
    handler.protocol_version = "HTTP/1.1"
    handler.send_response(200)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    handler.wfile.write(b"64\r\n" + b"x" * 10)  # a chunk of 100 bytes announced, 10 sent


@pytest.mark.parametrize(("route", "error"), [(bad_status_line, "BadStatusLine"), (broken_chunks, "IncompleteRead")])
def test_http_protocol_errors_become_data_errors(route, error, server, no_data, monkeypatch):
    routes, base = server
    routes["/book.txt"] = route
    monkeypatch.setitem(torchnlp.DATA_FILES, BOOK, ("the book", base + "/book.txt", "0" * 64, 1000))
    with pytest.raises(torchnlp.DataError, match=f"could not be downloaded .*{error}"):
        torchnlp.load_book()
    assert leftovers(no_data.parent) == []


def test_http_error_is_reported(server, no_data, monkeypatch):
    _, base = server
    monkeypatch.setitem(torchnlp.DATA_FILES, BOOK, ("the book", base + "/missing.txt", "0" * 64, 1000))
    with pytest.raises(torchnlp.DataError, match="404"):
        torchnlp.load_book()


# -- IMDb: the original archive is converted into the course's CSV layout


def imdb_archive(reviews):
    """A tar.gz laid out like aclImdb_v1.tar.gz, from {(split, label, id, rating): text}."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        members = list(reviews.items()) + [(("unsup", "", 0, 0), "ignored"), (("train", "", 0, 0), "ignored")]
        for (split, label, review_id, rating), text in members:
            name = f"aclImdb/{split}/{label}/{review_id}_{rating}.txt" if label else f"aclImdb/{split}/labeledBow.feat"
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


REVIEWS = {
    ("train", "pos", 10, 9): 'Great, "really" great.<br />Loved it',
    ("train", "pos", 2, 8): "Fine, with a comma",
    ("train", "neg", 7, 1): "Awful.",
    ("test", "neg", 0, 2): "Bad — très mauvais",
    ("test", "pos", 1, 10): "Good",
}


def test_convert_imdb_archive(tmp_path):
    archive = tmp_path / "aclImdb_v1.tar.gz"
    archive.write_bytes(imdb_archive(REVIEWS | {("train", "unsup", 5, 0): "An unlabelled review"}))  # as the real one
    torchnlp.convert_imdb_archive(archive, tmp_path)
    with gzip.open(tmp_path / "train.csv.gz", "rt", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [
        ["label", "text"],
        ["neg", "Awful."],
        ["pos", "Fine, with a comma"],
        ["pos", 'Great, "really" great.<br />Loved it'],
    ]
    assert leftovers(tmp_path) == ["aclImdb_v1.tar.gz", "test.csv.gz", "train.csv.gz"]


def test_convert_rejects_other_archives(tmp_path):
    archive = tmp_path / "other.tar.gz"
    archive.write_bytes(imdb_archive({}))
    with pytest.raises(torchnlp.DataError, match="no train reviews"):
        torchnlp.convert_imdb_archive(archive, tmp_path)


def test_imdb_download_converts_archive_once(server, no_data, monkeypatch):
    routes, base = server
    archive = imdb_archive(REVIEWS)
    routes["/aclImdb_v1.tar.gz"] = (archive, len(archive))
    url = base + "/aclImdb_v1.tar.gz"
    monkeypatch.setattr(torchnlp, "IMDB_URL", url)
    monkeypatch.setattr(torchnlp, "IMDB_MD5", hashlib.md5(archive).hexdigest())
    expected = {
        "train": 'label,text\nneg,Awful.\npos,"Fine, with a comma"\npos,"Great, ""really"" great.<br />Loved it"\n',
        "test": "label,text\nneg,Bad — très mauvais\npos,Good\n",
    }
    for split, text in expected.items():
        monkeypatch.setitem(torchnlp.DATA_FILES, f"imdb/{split}.csv", ("IMDb", url, sha256(text.encode()), 10_000))
    train, test, classes, vocab = torchnlp.load_dataset("imdb")
    assert train == [(0, "Awful."), (1, "Fine, with a comma"), (1, 'Great, "really" great.<br />Loved it')]
    assert test == [(0, "Bad — très mauvais"), (1, "Good")]
    assert leftovers(no_data) == ["test.csv.gz", "train.csv.gz"]  # the archive is gone once converted
    routes.clear()
    assert torchnlp.load_imdb("test") == test


def serve_imdb(server, monkeypatch, reviews=REVIEWS, **answer_kwargs):
    """Serve an archive of ``reviews`` as the IMDb archive; patch the expected checksums to match it."""
    routes, base = server
    archive = imdb_archive(reviews)
    routes["/aclImdb_v1.tar.gz"] = answer(archive, **answer_kwargs)
    url = base + "/aclImdb_v1.tar.gz"
    monkeypatch.setattr(torchnlp, "IMDB_URL", url)
    monkeypatch.setattr(torchnlp, "IMDB_MD5", hashlib.md5(archive).hexdigest())
    for split in ("train", "test"):
        rows = sorted((label, i, text) for (s, label, i, _), text in reviews.items() if s == split)
        text = "label,text\n" + "".join(f"{label},{text}\n" for label, _, text in rows)
        monkeypatch.setitem(torchnlp.DATA_FILES, f"imdb/{split}.csv", ("IMDb", url, sha256(text.encode()), 10_000))


def test_two_loads_of_imdb_at_once_both_succeed(server, no_data, monkeypatch):
    reviews = {("train", "neg", 0, 1): "bad", ("test", "pos", 0, 9): "good"}
    serve_imdb(server, monkeypatch, reviews, chunks=5, pause=0.05)
    both_downloaded = threading.Barrier(2, timeout=10)
    convert = torchnlp.convert_imdb_archive

    def convert_when_both_have_downloaded(archive, folder):
        both_downloaded.wait()  # the moment where two loads on one archive path collided
        convert(archive, folder)

    monkeypatch.setattr(torchnlp, "convert_imdb_archive", convert_when_both_have_downloaded)
    results, errors = [], []

    def load():
        try:
            results.append(torchnlp.load_imdb("train"))
        except Exception as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=load) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == [] and results == [[(0, "bad")], [(0, "bad")]]
    assert leftovers(no_data) == ["test.csv.gz", "train.csv.gz"]


def test_failed_conversion_leaves_no_archive_behind(server, no_data, monkeypatch):
    serve_imdb(server, monkeypatch, {("train", "neg", 0, 1): "bad"})  # no test split
    with pytest.raises(torchnlp.DataError, match="holds no test reviews"):
        torchnlp.load_imdb("train")
    assert leftovers(no_data) == []


def test_conversion_checks_both_splits_before_replacing_a_file(tmp_path):
    (tmp_path / "train.csv.gz").write_bytes(b"an earlier copy")
    archive = tmp_path / "aclImdb_v1.tar.gz"
    archive.write_bytes(imdb_archive({k: v for k, v in REVIEWS.items() if k[0] == "train"}))
    with pytest.raises(torchnlp.DataError, match="no test reviews"):
        torchnlp.convert_imdb_archive(archive, tmp_path)
    assert (tmp_path / "train.csv.gz").read_bytes() == b"an earlier copy"
    assert leftovers(tmp_path) == ["aclImdb_v1.tar.gz", "train.csv.gz"]


def test_truncated_archive_raises_data_error_naming_it(tmp_path):
    archive = tmp_path / "aclImdb_v1.tar.gz"
    data = imdb_archive(REVIEWS)
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(torchnlp.DataError, match="truncated or corrupt") as error:
        torchnlp.convert_imdb_archive(archive, tmp_path)
    assert str(archive) in str(error.value)


def test_interrupted_conversion_leaves_no_temporary_file(tmp_path, monkeypatch):
    archive = tmp_path / "aclImdb_v1.tar.gz"
    archive.write_bytes(imdb_archive(REVIEWS))

    def ctrl_c(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(torchnlp.os, "replace", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        torchnlp.convert_imdb_archive(archive, tmp_path)
    assert leftovers(tmp_path) == ["aclImdb_v1.tar.gz"]


def test_imdb_conversion_reproduces_shared_csv_bytes(full, tmp_path):
    """An archive rebuilt from the shared CSVs converts back to the very same bytes (same sha256)."""
    reviews = {}
    for split in ("train", "test"):
        rows = torchnlp.read_csv(f"imdb/{split}.csv")[1:]
        counters = {"neg": 0, "pos": 0}
        for label, text in rows:  # ids 0..12499 in file order; ratings are not stored, any will do
            reviews[(split, label, counters[label], 1 if label == "neg" else 10)] = text
            counters[label] += 1
    archive = tmp_path / "aclImdb_v1.tar.gz"
    archive.write_bytes(imdb_archive(reviews))
    torchnlp.convert_imdb_archive(archive, tmp_path)
    for split in ("train", "test"):
        data = gzip.decompress((tmp_path / f"{split}.csv.gz").read_bytes())
        assert sha256(data) == torchnlp.DATA_FILES[f"imdb/{split}.csv"][2]


# -- bad arguments and hostile servers: a clear error or the right result, never a silent mistake or a hang


def test_relative_xdg_cache_home_is_ignored(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    for value in ("relative/cache", ""):  # the XDG specification: a relative path is invalid and ignored
        monkeypatch.setenv("XDG_CACHE_HOME", value)
        assert torchnlp.cache_dir() == tmp_path / ".cache" / "torchnlp"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert torchnlp.cache_dir() == tmp_path / "xdg" / "torchnlp"


def test_checksums_are_compared_in_either_case_and_both_checked(server, tmp_path):
    routes, base = server
    body = (torchnlp.QUICK_DIR / BOOK).read_bytes()
    routes["/book.txt"] = (body, len(body))
    good = {"sha256": sha256(body), "md5": hashlib.md5(body).hexdigest()}
    for kind, digest in good.items():
        torchnlp.download(base + "/book.txt", tmp_path / kind, **{kind: digest.upper()})
        assert (tmp_path / kind).read_bytes() == body
    with pytest.raises(torchnlp.DataError, match="md5 0{32} expected"):  # a good sha256 does not excuse the md5
        torchnlp.download(base + "/book.txt", tmp_path / "both", sha256=good["sha256"], md5="0" * 32)
    assert leftovers(tmp_path) == ["md5", "sha256"]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"url": None}, "url must be a str"),
        ({"path": None}, "path must be a file path"),
        ({"sha256": "xyz"}, "sha256 must be 64 hex digits"),
        ({"md5": 123}, "md5 must be a str of 32 hex digits"),
        ({"timeout": 0}, "timeout must be positive"),
        ({"deadline": "10"}, "deadline must be a number"),
        ({"max_bytes": -1}, "max_bytes must be at least 0"),
    ],
)
def test_bad_download_arguments_raise_naming_them(kwargs, error, tmp_path):
    arguments = {"url": "http://127.0.0.1:9/never-asked", "path": tmp_path / "x"} | kwargs
    with pytest.raises((TypeError, ValueError), match=error):
        torchnlp.download(**arguments)
    assert leftovers(tmp_path) == []


def cut_without_length(handler):
    handler.send_response(200)  # HTTP/1.0: the body ends where the connection closes
    handler.end_headers()
    handler.wfile.write(b"the first half of a file")


def test_a_body_without_length_needs_a_checksum(server, tmp_path):
    routes, base = server
    routes["/cut"] = cut_without_length
    with pytest.raises(torchnlp.DataError, match="no Content-Length"):  # a cut file must not pass for a whole one
        torchnlp.download(base + "/cut", tmp_path / "x")
    with pytest.raises(torchnlp.DataError, match="checksum"):
        torchnlp.download(base + "/cut", tmp_path / "x", sha256="0" * 64)
    assert leftovers(tmp_path) == []


def trickle(head, data, pause=0.25):
    """A route that sends ``head`` at once, then ``data`` a byte every ``pause`` seconds."""

    def route(handler):
        handler.wfile.write(head)
        for byte in data:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(pause)

    return route


@pytest.mark.parametrize(
    ("head", "data"),
    [
        (b"", b"HTTP/1.0 200 OK\r\nX-Padding: " + b"x" * 10),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"0" * 20),  # a chunk's size line
        (b"HTTP/1.0 200 OK\r\n\r\n", b"x" * 20),
    ],
    ids=["headers", "chunk-size", "body"],
)
def test_trickling_server_stops_at_the_deadline(head, data, server, tmp_path):
    routes, base = server
    routes["/trickle"] = trickle(head, data)  # a byte every 0.25 s (5 s in all) never trips timeout=5
    start = time.monotonic()
    with pytest.raises(torchnlp.DataError, match="took more than 1 s"):
        torchnlp.download(base + "/trickle", tmp_path / "x", sha256="0" * 64, timeout=5, deadline=1)
    assert time.monotonic() - start < 3
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("head", "data", "message"),
    [
        (b"", b"HTTP/1.0 200 OK\r\nX-Padding: " + b"x" * 20, "no complete response headers within 2 s"),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 40\r\n\r\n", b"x" * 40, "stalled: [0-9] bytes/s over 1.[0-9] s"),
        (b"HTTP/1.0 200 OK\r\n\r\n", b"x" * 40, "stalled"),  # HTTP/1.0, no length: read to the end
    ],
    ids=["headers", "body", "body-without-length"],
)
def test_trickling_server_stops_soon_after_timeout_with_the_default_deadline(head, data, message, server, tmp_path):
    routes, base = server
    routes["/trickle"] = trickle(head, data)  # 4 bytes a second (10 s in all): each byte well inside timeout=1
    start = time.monotonic()
    with pytest.raises(torchnlp.DataError, match=message):
        torchnlp.download(base + "/trickle", tmp_path / "x", sha256="0" * 64, timeout=1)
    assert time.monotonic() - start < 4
    assert leftovers(tmp_path) == []


def test_a_steady_transfer_slower_than_a_socket_read_is_not_called_stalled(server, tmp_path):
    routes, base = server
    body = b"y" * 8000
    routes["/steady"] = answer(body, chunks=4, pause=0.5)  # 4 kB/s, in 2 s, over timeout=1: fine
    torchnlp.download(base + "/steady", tmp_path / "y", sha256=sha256(body), timeout=1)
    assert (tmp_path / "y").read_bytes() == body


def test_unknown_data_file_name_raises(no_data):
    for call in (torchnlp.download_data_file, torchnlp.find_data_file, torchnlp.read_data_file):
        with pytest.raises(ValueError, match="unknown data file 'imdb/unsup.csv'"):
            call("imdb/unsup.csv")


def test_archive_conversion_creates_the_folder_and_refuses_a_memory_bomb(tmp_path, monkeypatch):
    archive = tmp_path / "aclImdb_v1.tar.gz"
    archive.write_bytes(imdb_archive(REVIEWS))
    torchnlp.convert_imdb_archive(archive, tmp_path / "new" / "imdb")
    assert leftovers(tmp_path / "new") == ["test.csv.gz", "train.csv.gz"]
    monkeypatch.setattr(torchnlp, "IMDB_TEXT_MAX", 50)  # the reviews above hold more; a bomb holds gigabytes
    with pytest.raises(torchnlp.DataError, match="over 50 bytes of reviews"):
        torchnlp.convert_imdb_archive(archive, tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_a_gzip_bomb_in_the_data_folder_is_refused_before_it_is_unpacked(no_data, monkeypatch, tmp_path):
    folder = tmp_path / "data"
    (folder / "mysterious_island").mkdir(parents=True)
    (folder / (BOOK + ".gz")).write_bytes(gzip.compress(bytes(50 << 20)))  # 50 MB of zeros in 50 kB
    monkeypatch.setenv("TORCHNLP_DATA", str(folder))
    expect_sample_book(monkeypatch)  # the book's sample: 0.1 MB, so at most 0.2 MB is read
    with pytest.raises(torchnlp.DataError, match=r"holds more than \d+ bytes, far more than"):
        torchnlp.read_data_file(BOOK)


def test_download_limits_must_be_finite_and_its_folder_writable(tmp_path):
    for name in ("timeout", "deadline"):  # inf overflowed inside the socket and queue
        with pytest.raises(ValueError, match=f"{name} must be a finite number of seconds"):
            torchnlp.download("http://127.0.0.1:9/never-asked", tmp_path / "x", **{name: float("inf")})
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(torchnlp.DataError, match="cannot write .*file.x"):
        torchnlp.download("http://127.0.0.1:9/never-asked", tmp_path / "file" / "x", sha256="0" * 64)


def test_a_data_file_that_is_not_utf8_raises_a_data_error(no_data, monkeypatch, tmp_path):
    folder = tmp_path / "data"
    (folder / "mysterious_island").mkdir(parents=True)
    content = b"THE MYSTERIOUS ISLAND \xff End of the Project Gutenberg"
    (folder / BOOK).write_bytes(content)
    monkeypatch.setenv("TORCHNLP_DATA", str(folder))
    monkeypatch.setitem(torchnlp.DATA_FILES, BOOK, ("the book", "http://127.0.0.1:9/none", sha256(content), 100))
    with pytest.raises(torchnlp.DataError, match=f"{BOOK} is not UTF-8 text"):  # a UnicodeDecodeError before
        torchnlp.load_book()
