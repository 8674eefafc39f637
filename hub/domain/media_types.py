"""MMS attachments: which formats the hub accepts, what a payload really is, how to serve it.

The type of a payload is decided from its bytes. A declared Content-Type or a file name only
picks between formats the bytes already support (a JPEG named ".jpe" stays ".jpe") and, for
plain text, which has no signature, says which text format it is. Markup that a browser would
render (HTML, SVG, XML) is never served inline, so an attachment cannot run script in the
hub's origin.

puremagic identifies most formats. Container formats (RIFF, IFF, ISO media, OLE2, ZIP, gzip,
ASF) are looked into here, because their outer signature alone cannot tell a WAV from a WebP,
an MP4 from a HEIC photo, a Word file from an MSI installer or a tarball from any gzip stream.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

import puremagic

Kind = Literal["image", "audio", "video", "text", "application"]


def _group(kind: Kind, entries: dict[str, str]) -> dict[str, tuple[Kind, str]]:
    return {ext: (kind, mime) for ext, mime in entries.items()}


_XLS = "application/vnd.ms-excel"
_PPT = "application/vnd.ms-powerpoint"
_MPEG_AUDIO = "audio/mpeg"
_MPEG_VIDEO = "video/mpeg"

ALLOWED_EXTENSIONS: Final[Mapping[str, tuple[Kind, str]]] = MappingProxyType(
    _group(
        "application",
        {
            "xls": _XLS,
            "xlm": _XLS,
            "xla": _XLS,
            "xlc": _XLS,
            "xlt": _XLS,
            "xlw": _XLS,
            "doc": "application/msword",
            "dot": "application/msword",
            "ppt": _PPT,
            "pps": _PPT,
            "pot": _PPT,
            "rtf": "application/rtf",
            "tgz": "application/gzip",
            "tar": "application/x-tar",
            "zip": "application/zip",
            "pdf": "application/pdf",
            "smi": "application/smil+xml",
            "smil": "application/smil+xml",
            "ogg": "application/ogg",
            "cab": "application/vnd.ms-cab-compressed",
            "odf": "application/vnd.oasis.opendocument.formula",
            "otc": "application/vnd.oasis.opendocument.chart-template",
            "odc": "application/vnd.oasis.opendocument.chart",
        },
    )
    | _group(
        "audio",
        {
            "mid": "audio/midi",
            "midi": "audio/midi",
            "kar": "audio/midi",
            "rmi": "audio/midi",
            "mpga": _MPEG_AUDIO,
            "mp2": _MPEG_AUDIO,
            "mp2a": _MPEG_AUDIO,
            "mp3": _MPEG_AUDIO,
            "m2a": _MPEG_AUDIO,
            "m3a": _MPEG_AUDIO,
            "m3u": "audio/x-mpegurl",
            "wav": "audio/wav",
            "wma": "audio/x-ms-wma",
            "aif": "audio/x-aiff",
            "aiff": "audio/x-aiff",
            "aifc": "audio/x-aiff",
            "ram": "audio/x-pn-realaudio",
            "ra": "audio/x-realaudio",
        },
    )
    | _group(
        "image",
        {
            "gif": "image/gif",
            "jpeg": "image/jpeg",
            "jpg": "image/jpeg",
            "jpe": "image/jpeg",
            "png": "image/png",
            "svg": "image/svg+xml",
            "svgz": "image/svg+xml",
            "djvu": "image/vnd.djvu",
            "djv": "image/vnd.djvu",
            "wbmp": "image/vnd.wap.wbmp",
            "ico": "image/vnd.microsoft.icon",
        },
    )
    | _group(
        "text",
        {
            "txt": "text/plain",
            "text": "text/plain",
            "conf": "text/plain",
            "def": "text/plain",
            "list": "text/plain",
            "log": "text/plain",
            "rtx": "text/richtext",
            "csv": "text/csv",
            "java": "text/x-java-source",
            "vcf": "text/vcard",
            "vcs": "text/x-vcalendar",
        },
    )
    | _group(
        "video",
        {
            "3gp": "video/3gpp",
            "3g2": "video/3gpp2",
            "qt": "video/quicktime",
            "mov": "video/quicktime",
            "asf": "video/x-ms-asf",
            "asx": "video/x-ms-asf",
            "avi": "video/x-msvideo",
            "movie": "video/x-sgi-movie",
            "mp4": "video/mp4",
            "mp4v": "video/mp4",
            "mpg4": "video/mp4",
            "mpeg": _MPEG_VIDEO,
            "mpg": _MPEG_VIDEO,
            "mpe": _MPEG_VIDEO,
            "m1v": _MPEG_VIDEO,
            "m2v": _MPEG_VIDEO,
        },
    )
)


@dataclass(frozen=True)
class SniffResult:
    """What a payload is and whether the hub accepts it.

    Attributes:
        accepted: whether the payload is one of ALLOWED_EXTENSIONS.
        mime: the MIME type to store and serve it as; for a rejected payload, what it looks
            like ("application/octet-stream" when unknown).
        extension: the file extension without a dot ("" when rejected).
        kind: "image", "audio", "video", "text" or "application".
        reason: why it was rejected, None when accepted.
    """

    accepted: bool
    mime: str
    extension: str
    kind: Kind
    reason: str | None


# Formats whose body is text: they are accepted only as clean UTF-8 without markup.
_TEXT_BODIED: Final = frozenset(ext for ext, (kind, _) in ALLOWED_EXTENSIONS.items() if kind == "text") | {
    "m3u",
    "ram",
}

# The formats puremagic may decide on its own. The others are decided by the container and
# markup checks below, or are text, and puremagic's weaker entries for them would misfire
# (it calls Graphviz source "dot", any "rtsp://" line "ram", and any RIFF file a WAV).
_MAGIC_DECIDED: Final = frozenset(
    {"png", "gif", "jpeg", "jpg", "jpe", "pdf", "rtf", "mid", "mp3", "ogg", "cab", "tar"}
    | {"ra", "mpeg", "mpg", "ico", "movie"}
)
# puremagic's name for a format -> the name in ALLOWED_EXTENSIONS.
_MAGIC_ALIASES: Final = {"jfif": "jpg", "koz": "mp3", "midi": "mid", "mpga": "mp3"}

# Names that share a MIME type but not a byte layout, so a file name may not swap them:
# svg/svgz (plain vs gzipped), rmi (MIDI in a RIFF wrapper) and tgz.
_NO_SIBLING: Final = frozenset({"svg", "svgz", "rmi", "tgz"})

_DECLARED_TEXT: Final = {
    "text/plain": "txt",
    "text/csv": "csv",
    "text/comma-separated-values": "csv",
    "application/csv": "csv",
    "text/vcard": "vcf",
    "text/x-vcard": "vcf",
    "text/directory": "vcf",
    "text/x-vcalendar": "vcs",
    "text/calendar": "vcs",
    "text/richtext": "rtx",
    "text/x-java-source": "java",
    "text/x-java": "java",
    "text/x-log": "log",
    "audio/x-mpegurl": "m3u",
    "audio/mpegurl": "m3u",
    "audio/x-pn-realaudio": "ram",
}

_OCTET = "application/octet-stream"
_HEAD = 4096

_BINARY_EXECUTABLES: Final = (
    (b"MZ", "a Windows executable"),
    (b"\x7fELF", "an ELF executable"),
    (b"\xfe\xed\xfa\xce", "a Mach-O executable"),
    (b"\xfe\xed\xfa\xcf", "a Mach-O executable"),
    (b"\xce\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xca\xfe\xba\xbe", "a Mach-O or Java class executable"),
    (b"dex\n", "an Android executable"),
    (b"\x00asm", "a WebAssembly module"),
)

# What browsers sniff as HTML (WHATWG MIME Sniffing, "identifying a resource with an unknown
# MIME type"): one of these tags, after optional whitespace, then a space or ">".
_HTML_START: Final = re.compile(
    rb"[\t\n\x0c\r ]*(?:<!doctype\s+html|<html|<head|<script|<iframe|<h1|<div|<font|<table|<a|<style"
    rb"|<title|<b|<body|<br|<p)[\t\n\x0c\r >]|[\t\n\x0c\r ]*<!--",
    re.IGNORECASE,
)
# The XML prolog (declaration, comments, processing instructions, doctype) and the root
# element's name. The repetitions are possessive: a lazy ".*?" that could be stretched over
# the next processing instruction would otherwise backtrack exponentially on hostile input.
_XML_ROOT: Final = re.compile(
    rb"(?:\s|<\?.*?\?>|<!--.*?-->|<!doctype(?:[^>\[]|\[[^\]]*\])*+>)*+<(?:[a-z_][\w.\-]*:)?([a-z_][\w.\-]*)",
    re.IGNORECASE | re.DOTALL,
)
_XML_ROOTS: Final = {b"svg": "svg", b"smil": "smil", b"asx": "asx"}
_TEXT_MARKUP: Final = ("<html", "<script", "<!doctype", "<svg", "<?xml", "<iframe", "<body", "<head")

_MP4_BRANDS: Final = frozenset(
    {b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"mmp4", b"MSNV"}
    | {b"M4V ", b"M4VH", b"M4VP", b"dash", b"f4v "}
)
_QUICKTIME_ATOMS: Final = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
_ODF_MIMES: Final = {
    b"application/vnd.oasis.opendocument.formula": "odf",
    b"application/vnd.oasis.opendocument.chart-template": "otc",
    b"application/vnd.oasis.opendocument.chart": "odc",
}
_OLE2: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ASF: Final = b"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c"


def _ole_stream(name: str) -> bytes:
    # Directory entry names are UTF-16LE and NUL-terminated.
    return (name + "\0").encode("utf-16-le")


_OLE_STREAMS: Final = (
    (_ole_stream("WordDocument"), "doc"),
    (_ole_stream("Workbook"), "xls"),
    (_ole_stream("Book"), "xls"),
    (_ole_stream("PowerPoint Document"), "ppt"),
)


_KINDS: Final[Mapping[str, Kind]] = MappingProxyType(
    {"image": "image", "audio": "audio", "video": "video", "text": "text"}
)


def _kind_of(mime: str) -> Kind:
    return _KINDS.get(mime.split("/", 1)[0], "application")


def _accept(ext: str, filename_ext: str | None = None) -> SniffResult:
    kind, mime = ALLOWED_EXTENSIONS[ext]
    named = ALLOWED_EXTENSIONS.get(filename_ext or "")
    # The file name may choose between two names of the format the bytes are.
    if (
        filename_ext is not None
        and named is not None
        and named[1] == mime
        and ext not in _NO_SIBLING
        and filename_ext not in _NO_SIBLING
    ):
        ext = filename_ext
    return SniffResult(accepted=True, mime=mime, extension=ext, kind=kind, reason=None)


def _reject(reason: str, mime: str = _OCTET) -> SniffResult:
    return SniffResult(accepted=False, mime=mime, extension="", kind=_kind_of(mime), reason=reason)


def _filename_ext(filename: str | None) -> str | None:
    if not filename or "." not in filename:
        return None
    return filename.rsplit(".", 1)[1].strip().lower() or None


def _declared_mime(declared_type: str | None) -> str | None:
    if not declared_type:
        return None
    return declared_type.split(";", 1)[0].strip().lower() or None


def _xml_root(head: bytes) -> bytes | None:
    match = _XML_ROOT.match(head.removeprefix(b"\xef\xbb\xbf"))
    return match.group(1).lower() if match else None


def _sniff_markup(head: bytes) -> SniffResult | None:
    if _HTML_START.match(head.removeprefix(b"\xef\xbb\xbf")):
        return _reject("content is HTML, not an accepted format", "text/html")
    root = _xml_root(head)
    if root == b"html":
        return _reject("content is HTML (XHTML), not an accepted format", "application/xhtml+xml")
    if root in _XML_ROOTS:
        return _accept(_XML_ROOTS[root])
    return None


def _sniff_gzip(data: bytes) -> SniffResult:
    try:
        # Only the start is needed; max_length keeps a decompression bomb from inflating.
        inner = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16).decompress(data, _HEAD)
    except zlib.error:
        return _reject("content is corrupt gzip data", "application/gzip")
    if inner[257:262] == b"ustar":
        return _accept("tgz")
    if _xml_root(inner) == b"svg":
        return _accept("svgz")
    return _reject("content is gzip data that is neither a tar archive nor SVG", "application/gzip")


def _sniff_iso_media(data: bytes, filename_ext: str | None) -> SniffResult:
    brand = data[8:12]
    if brand == b"qt  ":
        return _accept("mov", filename_ext)
    if brand.startswith(b"3g2"):
        return _accept("3g2", filename_ext)
    if brand.startswith(b"3g"):
        return _accept("3gp", filename_ext)
    if brand in _MP4_BRANDS:
        return _accept("mp4", filename_ext)
    shown = brand.decode("latin-1").strip() or "?"
    return _reject(f"content is ISO media of brand {shown!r} (not MP4, 3GPP or QuickTime video)")


def _sniff_zip(data: bytes) -> SniffResult:
    # OpenDocument stores a "mimetype" member first, uncompressed and without extra field,
    # so its content sits right after the 30-byte local header and the 8-byte name.
    stored = data[8:10] == b"\x00\x00"
    if stored and data[26:30] == b"\x08\x00\x00\x00" and data[30:38] == b"mimetype":
        size = int.from_bytes(data[22:26], "little")
        ext = _ODF_MIMES.get(data[38 : 38 + size])
        if ext is not None:
            return _accept(ext)
    return _accept("zip")


def _sniff_ole2(data: bytes, filename_ext: str | None) -> SniffResult:
    found = sorted((pos, ext) for stream, ext in _OLE_STREAMS if (pos := data.find(stream)) >= 0)
    if found:
        # A document can embed another (a chart workbook in a Word file), so several main
        # streams may be present: the file name may pick one of them, else the first in the
        # directory wins, since Office writes the containing document's entries first.
        named = ALLOWED_EXTENSIONS.get(filename_ext or "")
        for _, ext in found:
            if named is not None and named[1] == ALLOWED_EXTENSIONS[ext][1]:
                return _accept(ext, filename_ext)
        return _accept(found[0][1], filename_ext)
    return _reject(
        "content is an OLE2 compound file that is not a Word, Excel or PowerPoint document",
        "application/x-ole-storage",
    )


def _sniff_container(data: bytes, filename_ext: str | None) -> SniffResult | None:
    """Decide container formats from what is inside; None when data is no such container."""
    if data.startswith(b"RIFF"):
        form = data[8:12]
        riff = {b"WAVE": "wav", b"AVI ": "avi", b"RMID": "rmi"}.get(form)
        if riff:
            return _accept(riff, filename_ext)
        return _reject(f"content is a RIFF {form.decode('latin-1')!r} file, not an accepted format")
    if data.startswith(b"AT&TFORM"):
        if data[12:16] in (b"DJVU", b"DJVM"):
            return _accept("djvu", filename_ext)
        return _reject("content is an AT&T IFF file that is not DjVu")
    if data.startswith(b"FORM"):
        iff = {b"AIFF": "aiff", b"AIFC": "aifc"}.get(data[8:12])
        if iff:
            return _accept(iff, filename_ext)
        return _reject(f"content is an IFF {data[8:12].decode('latin-1')!r} file, not an accepted format")
    if data[4:8] == b"ftyp":
        return _sniff_iso_media(data, filename_ext)
    if data[4:8] in _QUICKTIME_ATOMS:
        return _accept("mov", filename_ext)
    if data.startswith(_OLE2):
        return _sniff_ole2(data, filename_ext)
    if data.startswith(b"PK\x03\x04"):
        return _sniff_zip(data)
    if data.startswith(b"\x1f\x8b"):
        return _sniff_gzip(data)
    if data.startswith(_ASF):
        # Audio-only and video ASF share the header; the file name may say which.
        return _accept("wma" if filename_ext == "wma" else "asf", filename_ext)
    return None


def _as_text(data: bytes) -> str | None:
    """The payload as text, or None when it is not clean UTF-8 without NUL bytes."""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _executable(data: bytes, is_text: bool) -> str | None:
    """What kind of program data is, or None."""
    if data.startswith(b"#!") and not data.startswith(b"#!AMR"):
        return "a script"
    # A real binary executable always holds NUL bytes; clean text that happens to start
    # with "MZ" (as Polish "MZK" does) is text.
    if is_text:
        return None
    for magic, what in _BINARY_EXECUTABLES:
        if data.startswith(magic):
            return what
    return None


def _sniff_magic(data: bytes, is_text: bool, filename_ext: str | None) -> SniffResult | None:
    try:
        matches = puremagic.magic_string(data)
    except (puremagic.PureError, ValueError):
        return None
    if not matches:
        return None
    top = matches[0].confidence
    for match in matches:
        if match.confidence < top:
            break
        signature = bytes(match.byte_match)
        # A few letters at the start of a text ("IC", "MOVI") are a word, not a signature.
        if is_text and len(signature) < 5 and signature.isalnum():
            continue
        ext = str(match.extension).lstrip(".").lower()
        ext = _MAGIC_ALIASES.get(ext, ext)
        if ext in _MAGIC_DECIDED:
            return _accept(ext, filename_ext)
    return None


def _describe(data: bytes) -> tuple[str, str]:
    """A name and MIME type for a payload that is rejected, for the reason given."""
    try:
        matches = puremagic.magic_string(data)
    except (puremagic.PureError, ValueError):
        return "not a recognised format", _OCTET
    best = matches[0]
    name = str(best.name).strip() or str(best.extension).lstrip(".") or "unknown"
    return f"{name}, not an accepted format", str(best.mime_type).strip() or _OCTET


def _sniff_text(text: str, declared: str | None, filename_ext: str | None) -> SniffResult:
    head = text[:1024].lower()
    found = [token for token in _TEXT_MARKUP if token in head]
    if found:
        mime = "application/xml" if found == ["<?xml"] else "text/html"
        return _reject(f"text contains {found[0]!r} markup, which is not accepted as text", mime)
    start = text.lstrip()[:16].upper()
    if start.startswith("BEGIN:VCARD"):
        return _accept("vcf")
    if start.startswith("BEGIN:VCALENDAR"):
        return _accept("vcs")
    if start.startswith("#EXTM3U"):
        return _accept("m3u")
    if filename_ext in _TEXT_BODIED:
        return _accept(filename_ext)
    declared_ext = _DECLARED_TEXT.get(declared or "")
    if declared_ext is not None:
        return _accept(declared_ext)
    return _reject(
        "content is plain text, accepted only when its declared type or file name says a text format",
        "text/plain",
    )


def _sniff_wbmp(data: bytes) -> bool:
    """Whether data is a type-0 WBMP whose size matches its header exactly."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        return False
    pos = 2
    dims: list[int] = []
    for _ in range(2):
        value = 0
        for _ in range(4):
            if pos >= len(data):
                return False
            byte = data[pos]
            pos += 1
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        else:
            return False
        dims.append(value)
    width, height = dims
    return width > 0 and height > 0 and len(data) - pos == (width + 7) // 8 * height


def sniff_media(data: bytes, declared_type: str | None, filename: str | None) -> SniffResult:
    """Decide from its bytes what an MMS attachment is and whether the hub accepts it.

    The declared type and file name never make the hub accept bytes that are something else:
    they only choose between names of one format, and say which text format a text is.

    Args:
        data: the attachment's bytes.
        declared_type: the Content-Type the sender gave, if any.
        filename: the sender's file name, if any.

    Returns:
        The verdict, with the MIME type and extension to store and serve it under.
    """
    if not data:
        return _reject("content is empty")
    text = _as_text(data)
    executable = _executable(data, text is not None)
    if executable is not None:
        return _reject(f"content is {executable}, which is never accepted", "application/x-executable")

    filename_ext = _filename_ext(filename)
    declared = _declared_mime(declared_type)
    head = data[:_HEAD]

    markup = _sniff_markup(head)
    if markup is not None:
        return markup
    # Every container format holds NUL bytes (in its size fields at least), so clean text
    # that starts with "FORM" (Polish "FORMULARZ") or has "free" at offset 4 is still text.
    container = None if text is not None else _sniff_container(data, filename_ext)
    if container is not None:
        return container

    magic = _sniff_magic(data, text is not None, filename_ext)
    if magic is not None:
        return magic
    if text is not None:
        return _sniff_text(text, declared, filename_ext)
    if (filename_ext == "wbmp" or declared == "image/vnd.wap.wbmp") and _sniff_wbmp(data):
        return _accept("wbmp")
    description, mime = _describe(data)
    return _reject(f"content is {description}", mime)


_INLINE_IMAGES: Final = frozenset(
    {"image/png", "image/gif", "image/jpeg", "image/vnd.wap.wbmp", "image/vnd.microsoft.icon", "image/x-icon"}
)
# Playlists and metafiles carry audio/* types but are text that points elsewhere.
_METAFILES: Final = frozenset({"audio/x-mpegurl", "audio/mpegurl", "audio/x-pn-realaudio"})


def serve_disposition(mime: str) -> Literal["inline", "attachment"]:
    """Say whether the hub may let a browser show a stored attachment in place.

    Only raster images, audio and video are shown inline; SVG, text and everything else are
    downloads, so that no attachment is ever rendered as a document that could run script.

    Args:
        mime: the MIME type the attachment is stored under (parameters are ignored).

    Returns:
        "inline" or "attachment", for the Content-Disposition header.
    """
    base = mime.split(";", 1)[0].strip().lower()
    if base in _INLINE_IMAGES:
        return "inline"
    if base.startswith(("audio/", "video/")) and base not in _METAFILES:
        return "inline"
    return "attachment"
