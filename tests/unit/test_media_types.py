from __future__ import annotations

import gzip
import io
import os
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.media_types import ALLOWED_EXTENSIONS, Kind, SniffResult, serve_disposition, sniff_media
from tests.conftest import ROOT


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


# A complete 1x1 RGBA PNG.
PNG = (
    b"\x89PNG\r\n\x1a\n"
    + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0))
    + png_chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00\x00"))
    + png_chunk(b"IEND", b"")
)
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
    b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 16 + b"\xff\xd9"
PDF = (
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
)
SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'
)
HTML = b"<!DOCTYPE html>\n<html><head><title>x</title></head><body><script>alert(1)</script></body></html>"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 44
PE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\x00" * 44
    + b"\x40\x00\x00\x00PE\x00\x00"
)
POLISH_TEXT = "Zażółć gęślą jaźń — spotkanie o 15:00, sala 3.\n".encode()
VCARD = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Jan Kowalski\r\nTEL;TYPE=CELL:+48503340503\r\nEND:VCARD\r\n"
VCAL = (
    b"BEGIN:VCALENDAR\r\nVERSION:1.0\r\nBEGIN:VEVENT\r\nSUMMARY:Spotkanie\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def zip_bytes(*members: tuple[str, bytes, int]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, body, method in members:
            archive.writestr(zipfile.ZipInfo(name), body, compress_type=method)
    return buf.getvalue()


def tgz_bytes() -> bytes:
    # mtime=0: the same bytes in every process, so parallel workers collect the same test ids.
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as archive:
        info = tarfile.TarInfo("a.txt")
        info.size = 5
        archive.addfile(info, io.BytesIO(b"hello"))
    return buf.getvalue()


def tar_bytes() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        info = tarfile.TarInfo("a.txt")
        info.size = 5
        archive.addfile(info, io.BytesIO(b"hello"))
    return buf.getvalue()


ZIP = zip_bytes(("a.txt", b"hello", zipfile.ZIP_DEFLATED))
ODC = zip_bytes(
    ("mimetype", b"application/vnd.oasis.opendocument.chart", zipfile.ZIP_STORED),
    ("content.xml", b"<office:document-content/>", zipfile.ZIP_DEFLATED),
)
OTC = zip_bytes(("mimetype", b"application/vnd.oasis.opendocument.chart-template", zipfile.ZIP_STORED))
ODT = zip_bytes(("mimetype", b"application/vnd.oasis.opendocument.text", zipfile.ZIP_STORED))
OLE2_HEADER = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


def ole2_with(stream: str) -> bytes:
    entry = (stream + "\0").encode("utf-16-le")
    return OLE2_HEADER + entry + b"\x00" * (128 - len(entry))


OLE2_WORD_WITH_CHART = ole2_with("WordDocument") + ole2_with("Workbook")[len(OLE2_HEADER) :]
WAV = (
    b"RIFF\x24\x00\x00\x00WAVEfmt "
    b"\x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00"
)
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00" + b"\x00" * 24
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00\x00\x00\x08free"
THREE_GP = b"\x00\x00\x00\x14ftyp3gp4\x00\x00\x00\x00isom" + b"\x00\x00\x00\x08free"
QUICKTIME = b"\x00\x00\x00\x14ftypqt  \x20\x05\x03\x00qt  " + b"\x00\x00\x00\x08wide"
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 16
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10 + b"\xff\xfb\x90\x64" + b"\x00" * 40
OGG = b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x1e\x01vorbis" + b"\x00" * 20
MIDI = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk\x00\x00\x00\x04\x00\xff\x2f\x00"
WBMP = bytes([0, 0, 8, 2, 0xFF, 0x00])


def accepted(mime: str, extension: str, kind: Kind) -> SniffResult:
    return SniffResult(accepted=True, mime=mime, extension=extension, kind=kind, reason=None)


@pytest.mark.parametrize(
    ("data", "declared", "filename", "expected"),
    [
        (PNG, "image/png", "a.png", accepted("image/png", "png", "image")),
        (PNG, None, None, accepted("image/png", "png", "image")),
        # The bytes win over a wrong declared type.
        (PNG, "text/plain", "notes.txt", accepted("image/png", "png", "image")),
        (GIF, "image/gif", None, accepted("image/gif", "gif", "image")),
        (JPEG, "image/jpeg", None, accepted("image/jpeg", "jpg", "image")),
        # A file name may pick another name of the same format, never another format.
        (JPEG, None, "IMG_0001.JPE", accepted("image/jpeg", "jpe", "image")),
        (JPEG, None, "a.png", accepted("image/jpeg", "jpg", "image")),
        (PDF, "application/octet-stream", None, accepted("application/pdf", "pdf", "application")),
        (ZIP, "application/zip", None, accepted("application/zip", "zip", "application")),
        (ODC, None, None, accepted("application/vnd.oasis.opendocument.chart", "odc", "application")),
        (
            OTC,
            None,
            None,
            accepted("application/vnd.oasis.opendocument.chart-template", "otc", "application"),
        ),
        (ODT, None, None, accepted("application/zip", "zip", "application")),
        (tgz_bytes(), None, "backup.tgz", accepted("application/gzip", "tgz", "application")),
        (tar_bytes(), None, None, accepted("application/x-tar", "tar", "application")),
        (ole2_with("WordDocument"), None, None, accepted("application/msword", "doc", "application")),
        (
            ole2_with("WordDocument"),
            None,
            "template.dot",
            accepted("application/msword", "dot", "application"),
        ),
        (
            ole2_with("Workbook"),
            None,
            "sheet.xlt",
            accepted("application/vnd.ms-excel", "xlt", "application"),
        ),
        (
            ole2_with("PowerPoint Document"),
            None,
            None,
            accepted("application/vnd.ms-powerpoint", "ppt", "application"),
        ),
        (SVG, "image/svg+xml", None, accepted("image/svg+xml", "svg", "image")),
        (gzip.compress(SVG, mtime=0), None, "a.svgz", accepted("image/svg+xml", "svgz", "image")),
        (
            b"<smil><body><img src='a.jpg'/></body></smil>",
            None,
            None,
            accepted("application/smil+xml", "smil", "application"),
        ),
        (WAV, "audio/wav", None, accepted("audio/wav", "wav", "audio")),
        (MP3, "audio/mpeg", None, accepted("audio/mpeg", "mp3", "audio")),
        (OGG, None, None, accepted("application/ogg", "ogg", "application")),
        (MIDI, None, "song.kar", accepted("audio/midi", "kar", "audio")),
        (MP4, "video/mp4", None, accepted("video/mp4", "mp4", "video")),
        (THREE_GP, "video/3gpp", None, accepted("video/3gpp", "3gp", "video")),
        (QUICKTIME, None, "clip.qt", accepted("video/quicktime", "qt", "video")),
        (WBMP, None, "logo.wbmp", accepted("image/vnd.wap.wbmp", "wbmp", "image")),
        (POLISH_TEXT, "text/plain; charset=utf-8", None, accepted("text/plain", "txt", "text")),
        (POLISH_TEXT, None, "notatka.txt", accepted("text/plain", "txt", "text")),
        (b"a,b,c\n1,2,3\n", "text/plain", "data.csv", accepted("text/csv", "csv", "text")),
        (b"a,b,c\n1,2,3\n", "text/csv", None, accepted("text/csv", "csv", "text")),
        (VCARD, "text/x-vcard", "jan.vcf", accepted("text/vcard", "vcf", "text")),
        # vCard and vCalendar carry their own textual signature.
        (VCARD, None, None, accepted("text/vcard", "vcf", "text")),
        (VCAL, "application/octet-stream", None, accepted("text/x-vcalendar", "vcs", "text")),
        (b"#EXTM3U\n#EXTINF:10,Intro\nintro.mp3\n", None, None, accepted("audio/x-mpegurl", "m3u", "audio")),
        (b"rtsp://media.example/a.ra\n", None, "a.ram", accepted("audio/x-pn-realaudio", "ram", "audio")),
        # Text that starts like a binary executable's signature is still text.
        ("MZK Toruń: rozkład jazdy".encode(), "text/plain", None, accepted("text/plain", "txt", "text")),
        # puremagic calls "IC…" an icon and "MOVI…" an SGI movie; as text they are words.
        (b"ICE cream: 2 scoops", "text/plain", None, accepted("text/plain", "txt", "text")),
        (b"MOVIES tonight", None, "list.list", accepted("text/plain", "list", "text")),
        (b"digraph G { a -> b }", "text/plain", None, accepted("text/plain", "txt", "text")),
        # Container signatures in clean text are words too.
        ("FORMULARZ zgłoszeniowy".encode(), "text/plain", None, accepted("text/plain", "txt", "text")),
        (b"Get free pizza", "text/plain", None, accepted("text/plain", "txt", "text")),
        (b"\xff\xfb\x90\x64" + b"\x00" * 100, None, None, accepted("audio/mpeg", "mp3", "audio")),
        (OLE2_WORD_WITH_CHART, None, None, accepted("application/msword", "doc", "application")),
        (OLE2_WORD_WITH_CHART, None, "a.xls", accepted("application/vnd.ms-excel", "xls", "application")),
        (OLE2_WORD_WITH_CHART, None, "a.ppt", accepted("application/msword", "doc", "application")),
    ],
)
def test_accepted(data: bytes, declared: str | None, filename: str | None, expected: SniffResult) -> None:
    assert sniff_media(data, declared, filename) == expected


@pytest.mark.parametrize(
    ("data", "declared", "filename", "reason_part"),
    [
        (HTML, "image/png", "cat.png", "content is HTML, not an accepted format"),
        (HTML, "text/html", None, "HTML"),
        (b"\xef\xbb\xbf  <p>hello</p>", "text/plain", None, "HTML"),
        (b"<!-- comment --><div>x</div>", "text/plain", "a.txt", "HTML"),
        (
            b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body/></html>',
            "image/svg+xml",
            None,
            "XHTML",
        ),
        (ELF, "image/jpeg", None, "ELF executable"),
        (PE, "application/pdf", None, "Windows executable"),
        (b"#!/bin/sh\nrm -rf /\n", "text/plain", "run.txt", "script"),
        (b"hello\n<script>alert(1)</script>", "text/plain", "a.txt", "'<script'"),
        (b'<?xml version="1.0"?><note>hi</note>', "text/plain", None, "'<?xml'"),
        (b"some text", None, None, "declared type or file name"),
        (b"some text", "image/png", "a.png", "declared type or file name"),
        ("Zażółć gęślą jaźń".encode("iso-8859-2"), "text/plain", None, "not a recognised format"),
        (b"abc\x00def", "text/plain", None, "not a recognised format"),
        (WEBP, "image/webp", None, "RIFF 'WEBP'"),
        (HEIC, "image/heic", None, "brand 'heic'"),
        (OLE2_HEADER, "application/msword", "a.doc", "not a Word, Excel or PowerPoint"),
        (gzip.compress(b"just bytes", mtime=0), None, "a.tgz", "neither a tar archive nor SVG"),
        # A deflate block of the reserved type 3.
        (b"\x1f\x8b\x08\x00" + b"\x00" * 6 + b"\xff" * 16, None, None, "corrupt gzip"),
        (WBMP + b"\x00", None, "logo.wbmp", "not a recognised format"),
        (WBMP, None, None, "not a recognised format"),
        (b"", "image/png", None, "empty"),
    ],
)
def test_rejected(data: bytes, declared: str | None, filename: str | None, reason_part: str) -> None:
    result = sniff_media(data, declared, filename)
    assert not result.accepted
    assert result.extension == ""
    assert result.reason is not None
    assert reason_part in result.reason


def test_rejected_results_say_what_the_content_looks_like() -> None:
    assert sniff_media(HTML, "image/png", None).mime == "text/html"
    assert sniff_media(ELF, None, None).mime == "application/x-executable"
    assert sniff_media(b"plain", None, None).mime == "text/plain"


def test_allowed_extensions_table() -> None:
    groups = {
        "application": "xls xlm xla xlc xlt xlw doc dot ppt pps pot rtf tgz tar zip pdf smi smil ogg cab"
        " odf otc odc",
        "audio": "mid midi kar rmi mpga mp2 mp2a mp3 m2a m3a m3u wav wma aif aiff aifc ram ra",
        "image": "gif jpeg jpg jpe png svg svgz djvu djv wbmp ico",
        "text": "txt text conf def list log rtx csv java vcf vcs",
        "video": "3gp 3g2 qt mov asf asx avi movie mp4 mp4v mpg4 mpeg mpg mpe m1v m2v",
    }
    expected = {ext: kind for kind, exts in groups.items() for ext in exts.split()}
    assert {ext: kind for ext, (kind, _) in ALLOWED_EXTENSIONS.items()} == expected
    for _, mime in ALLOWED_EXTENSIONS.values():
        assert mime == mime.lower().strip()
        assert mime.split("/")[0] in ("application", "audio", "image", "text", "video")


@pytest.mark.parametrize(
    ("mime", "expected"),
    [
        ("image/png", "inline"),
        ("image/gif", "inline"),
        ("image/jpeg", "inline"),
        ("IMAGE/JPEG; charset=binary", "inline"),
        ("image/vnd.wap.wbmp", "inline"),
        ("image/vnd.microsoft.icon", "inline"),
        ("audio/mpeg", "inline"),
        ("audio/wav", "inline"),
        ("video/mp4", "inline"),
        ("video/3gpp", "inline"),
        ("image/svg+xml", "attachment"),
        ("image/vnd.djvu", "attachment"),
        ("text/plain", "attachment"),
        ("text/vcard", "attachment"),
        ("text/html", "attachment"),
        ("application/pdf", "attachment"),
        ("application/smil+xml", "attachment"),
        ("application/xhtml+xml", "attachment"),
        ("audio/x-mpegurl", "attachment"),
        ("audio/x-pn-realaudio", "attachment"),
        ("", "attachment"),
    ],
)
def test_serve_disposition(mime: str, expected: str) -> None:
    assert serve_disposition(mime) == expected


HOSTILE_SNIFF = """
import sys
from hub.domain.media_types import sniff_media
no_root = sniff_media(b"<?a?>" * 400 + b"<", None, None)
svg_root = sniff_media(b"<?a?>" * 400 + b"<svg/>", None, None)
print(no_root.accepted, svg_root.extension)
"""


def test_hostile_xml_prolog_is_sniffed_at_all() -> None:
    # Without possessive repetition the prolog pattern backtracks exponentially on these: some 2**400
    # steps, which no machine finishes. The sniff runs in a child process so that such a pattern ends
    # in the (generous) time limit instead of hanging the suite; linear matching takes milliseconds.
    done = subprocess.run(
        [sys.executable, "-c", HOSTILE_SNIFF],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "svg"]


ALLOWED_MIMES = {mime for _, mime in ALLOWED_EXTENSIONS.values()}
SAFE_INLINE_PREFIXES = (
    "image/png",
    "image/gif",
    "image/jpeg",
    "image/vnd.wap.wbmp",
    "image/vnd.microsoft.icon",
)
declared_types = st.one_of(
    st.none(),
    st.sampled_from(
        ["text/html", "image/svg+xml", "image/png", "text/plain", "application/xhtml+xml", "text/csv"]
    ),
)
filenames = st.one_of(
    st.none(), st.sampled_from(["a.html", "a.svg", "a.png", "a.txt", "a.csv", "a.vcf", "a"])
)
fragments = st.sampled_from(
    [
        b"<html>",
        b"<script>alert(1)</script>",
        b"<svg xmlns='http://www.w3.org/2000/svg'>",
        b"<?xml version='1.0'?>",
        b"<!DOCTYPE html>",
        b"<!-- x -->",
        b" ",
        b"\n",
        b"hello",
        "żółw".encode(),
        b"\x89PNG\r\n\x1a\n",
        b"GIF89a",
        b"\xff\xd8\xff",
        b"BEGIN:VCARD\r\n",
        b"\x00",
    ]
)
payloads = st.one_of(st.binary(min_size=0, max_size=600), st.lists(fragments, max_size=12).map(b"".join))


def check_safe(result: SniffResult) -> None:
    if result.accepted:
        assert result.mime in ALLOWED_MIMES
        assert result.mime not in ("text/html", "application/xhtml+xml")
        assert result.reason is None
        assert ALLOWED_EXTENSIONS[result.extension][1] == result.mime
    else:
        assert result.reason
    if serve_disposition(result.mime) == "inline":
        assert result.mime.startswith((*SAFE_INLINE_PREFIXES, "audio/", "video/"))
        assert result.mime != "image/svg+xml"


@given(payloads, declared_types, filenames)
def test_random_bytes_are_never_served_as_html_or_inline_svg(
    data: bytes, declared: str | None, filename: str | None
) -> None:
    check_safe(sniff_media(data, declared, filename))


@given(
    st.sampled_from([b"<html>", b"<script>", b"<!doctype html>", b"<body>", b"<p>"]),
    payloads,
    declared_types,
    filenames,
)
def test_html_prefix_is_never_accepted(
    prefix: bytes, rest: bytes, declared: str | None, filename: str | None
) -> None:
    result = sniff_media(b"\n " + prefix + rest, declared, filename)
    assert not result.accepted
    check_safe(result)


@given(payloads, declared_types, filenames)
def test_accepted_text_is_clean_utf8(data: bytes, declared: str | None, filename: str | None) -> None:
    result = sniff_media(data, declared, filename)
    if result.accepted and result.kind == "text":
        text = data.decode("utf-8-sig")
        assert "\x00" not in text
        assert "<script" not in text[:1024].lower()
        assert serve_disposition(result.mime) == "attachment"
