"""Parse a raw RFC 822 message with the standard library into what email capture logs.

Mail in the wild is messy: wrong or unknown charsets, 8-bit bytes in headers, HTML-only
bodies. Everything that comes out of here is clean text PostgreSQL accepts (no NUL, no lone
surrogates): a body in a charset Python does not know, or that does not decode with the one
it claims, is decoded with the best guess of charset-normalizer, and HTML becomes plain text
(``HtmlToText``; the text is escaped like any other where it is shown).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

import charset_normalizer
from django.utils.translation import gettext as _

# A parsed body is cut at this many characters (the activity is a note of the email, not an archive).
MAX_BODY_CHARS = 100_000
MAX_ADDRESSES = 200
MAX_PARTS = 500
# Charsets mail clients claim for text in a wider superset; decoding with the superset loses nothing.
_CHARSET_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "shift_jis": "cp932",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class NotAnEmail(ValueError):
    """The bytes are not an RFC 822 message (no header block with a sender)."""


@dataclass(frozen=True)
class Attachment:
    name: str
    size: int
    content_type: str

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "size": self.size, "content_type": self.content_type}


@dataclass
class ParsedEmail:
    message_id: str
    subject: str
    from_name: str
    from_address: str
    to: list[str]
    cc: list[str]
    # Every address a capture token could be in: To, Cc, Bcc, Delivered-To, X-Original-To, …
    recipients: list[str]
    sent_at: datetime | None
    body: str
    attachments: list[Attachment] = field(default_factory=list)
    # Senders and recipients of a forwarded message (attached, or quoted in the body).
    forwarded: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        """What makes the message the same message: its Message-ID, else its content."""
        if self.message_id:
            return hashlib.sha256(f"mid:{self.message_id}".encode()).hexdigest()
        parts = [
            self.from_address,
            ",".join(self.to),
            ",".join(self.cc),
            self.sent_at.isoformat() if self.sent_at else "",
            self.subject,
            self.body,
            *(f"{a.name}:{a.size}" for a in self.attachments),
        ]
        return hashlib.sha256("content:\x1f".join(parts).encode("utf-8", "replace")).hexdigest()


# --- Text cleaning ------------------------------------------------------------------------------


def decode_bytes(data: bytes, charset: str | None) -> str:
    """``data`` as text: with its declared charset when that works, else the best guess."""
    names = []
    if charset:
        declared = charset.strip().strip('"').lower()
        names = [_CHARSET_SUPERSETS.get(declared, declared)]
    names.append("utf-8")
    for name in names:
        try:
            return clean_text(data.decode(name))
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    best = charset_normalizer.from_bytes(data).best()
    if best is not None:
        return clean_text(str(best))
    return clean_text(data.decode("utf-8", "replace"))


def clean_text(value: str) -> str:
    """Text PostgreSQL stores: 8-bit header bytes (lone surrogates) decoded, control characters
    other than tab and newline dropped, line ends as ``\\n``."""
    if _SURROGATE.search(value):
        raw = value.encode("utf-8", "surrogateescape")
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            best = charset_normalizer.from_bytes(raw).best()
            value = str(best) if best is not None else raw.decode("utf-8", "replace")
        value = _SURROGATE.sub("\ufffd", value)
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", value)


def _one_line(value: str, limit: int) -> str:
    return " ".join(clean_text(value).split())[:limit]


# --- HTML to text -------------------------------------------------------------------------------

_BLOCK = {
    "address", "article", "aside", "blockquote", "div", "dl", "dt", "dd", "fieldset", "figure", "footer",
    "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
    "section", "table", "tr", "ul",
}  # fmt: skip
_SKIP = {"script", "style", "head", "title", "template", "noscript", "svg", "object", "iframe"}
_VOID = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "track", "wbr"}


class HtmlToText(HTMLParser):
    """Plain text of an HTML email: scripts, styles and the head dropped, paragraphs and line
    breaks kept, list items bulleted, a link's address after its text. The result is text, not
    markup: it is escaped wherever it is shown."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip_depth = 0
        self.pre_depth = 0
        self.href_stack: list[tuple[str, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            if tag not in _VOID:
                self.skip_depth += 1
            return
        if self.skip_depth:
            return
        if tag == "br":
            self.out.append("\n")
        elif tag == "li":
            self.out.append("\n• ")
        elif tag in _BLOCK:
            self.out.append("\n\n" if tag in {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote"} else "\n")
        elif tag in {"td", "th"}:
            self.out.append(" ")
        if tag == "pre":
            self.pre_depth += 1
        if tag == "a":
            href = dict(attrs).get("href") or ""
            self.href_stack.append((href, len(self.out)))

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if self.skip_depth:
            return
        if tag == "pre":
            self.pre_depth = max(0, self.pre_depth - 1)
        if tag == "a" and self.href_stack:
            href, start = self.href_stack.pop()
            text = "".join(self.out[start:]).strip()
            if href.startswith(("http://", "https://")) and href != text:
                self.out.append(f" <{href}>")
        if tag in _BLOCK and tag != "li":
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.pre_depth:
            self.out.append(data)
        else:
            self.out.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        lines = [line.strip() for line in "".join(self.out).split("\n")]
        # At most one empty line in a row.
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> str:
    parser = HtmlToText()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # pathological markup: keep what was read
        pass
    return parser.text()


# --- Headers ------------------------------------------------------------------------------------


def _header(msg: Message, name: str) -> str:
    """A header's decoded value; a malformed one (the parser can raise on some) as its raw text."""
    try:
        value = msg.get(name)
        return clean_text(str(value)) if value is not None else ""
    except Exception:  # noqa: BLE001 - a header the registry cannot parse is read raw, not fatal
        raw = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), "")
        return clean_text(str(raw))


def _header_all(msg: Message, name: str) -> list[str]:
    try:
        values = [str(v) for v in (msg.get_all(name) or [])]
    except Exception:  # noqa: BLE001 - see _header
        values = [str(v) for k, v in msg.raw_items() if k.lower() == name.lower()]
    return [clean_text(v) for v in values]


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    """(name, address) pairs, addresses lower-cased; junk without an @ left out."""
    pairs = []
    for name, address in getaddresses(values):
        address = clean_text(address).strip().strip("<>").lower()
        if "@" in address and len(address) <= 320 and " " not in address:
            pairs.append((_one_line(name, 200), address))
        if len(pairs) >= MAX_ADDRESSES:
            break
    return pairs


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _date(msg: Message) -> datetime | None:
    raw = _header(msg, "Date")
    if not raw:
        return None
    try:
        value = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


# --- Body and attachments -----------------------------------------------------------------------


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - a broken transfer encoding: the undecoded text
        data = None
    if data is None:
        raw = part.get_payload()
        data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    return data


def _part_text(part: Message) -> str:
    return decode_bytes(_payload(part), part.get_content_charset())


def _is_attachment(part: Message) -> bool:
    try:
        disposition = part.get_content_disposition()
        filename = part.get_filename()
    except Exception:  # noqa: BLE001 - a malformed Content-Disposition: treat as named data
        return True
    return disposition == "attachment" or bool(filename)


def _attachment(part: Message) -> Attachment:
    try:
        name = part.get_filename() or ""
    except Exception:  # noqa: BLE001 - see _is_attachment
        name = ""
    content_type = part.get_content_type()
    if content_type == "message/rfc822":
        inner = part.get_payload()
        inner_msg = inner[0] if isinstance(inner, list) and inner else None
        try:
            size = len(inner_msg.as_bytes()) if inner_msg is not None else 0
        except (RecursionError, LookupError, UnicodeError, ValueError):  # a pathological nesting
            size = 0
        name = name or (_header(inner_msg, "Subject") if inner_msg is not None else "") or _("Forwarded message")
        return Attachment(name=_one_line(name, 255), size=size, content_type=content_type)
    return Attachment(name=_one_line(name, 255) or _("(unnamed)"), size=len(_payload(part)), content_type=content_type)


def _body_and_attachments(msg: Message) -> tuple[str, list[Attachment], list[Message]]:
    """The text of the message, its attachments, and any attached (forwarded) messages."""
    plain: str | None = None
    html: str | None = None
    attachments: list[Attachment] = []
    inner: list[Message] = []
    stack: list[Message] = [msg]
    while stack:
        if len(attachments) > MAX_PARTS:
            raise NotAnEmail(_("The message has more than %(count)d parts.") % {"count": MAX_PARTS})
        part = stack.pop(0)
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            attachments.append(_attachment(part))
            payload = part.get_payload()
            if isinstance(payload, list):
                inner.extend(p for p in payload if isinstance(p, Message))
            continue
        if part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                stack[0:0] = [p for p in payload if isinstance(p, Message)]
            continue
        if part is not msg and _is_attachment(part):
            attachments.append(_attachment(part))
        elif content_type == "text/plain" and plain is None:
            plain = _part_text(part)
        elif content_type == "text/html" and html is None:
            html = _part_text(part)
        elif part is msg and content_type.startswith("text/"):
            plain = _part_text(part)
        elif part is msg:
            attachments.append(_attachment(part))
        else:
            # An inline image or other data without a name is still part of the message's size.
            attachments.append(_attachment(part))
    if plain is not None and plain.strip():
        body = plain
    elif html is not None:
        body = html_to_text(html)
    else:
        body = plain or ""
    return body.strip()[:MAX_BODY_CHARS], attachments, inner


_FORWARD_SUBJECT = re.compile(r"^\s*(fwd?|fw|wg|tr|rv|enc|пересл|пересылка|转发|轉寄)\s*[:：]", re.IGNORECASE)
_QUOTED_HEADER = re.compile(
    r"^[ \t>]*(from|to|cc|von|an|de|à|para|от|кому|копия|发件人|收件人|抄送)[ \t]*[:：](.*)$",
    re.IGNORECASE | re.MULTILINE,
)
_EMAIL_IN_TEXT = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)


def _forwarded_addresses(subject: str, body: str, inner: list[Message]) -> list[str]:
    """Who a forwarded message was from and to: an attached message's From/To/Cc, or the
    quoted header lines of an inline forward ("From: Anna <anna@acme.com>")."""
    found: list[str] = []
    for message in inner:
        for name in ("From", "To", "Cc", "Reply-To"):
            found.extend(a for _n, a in _addresses(_header_all(message, name)))
    if _FORWARD_SUBJECT.match(subject):
        for match in _QUOTED_HEADER.finditer(body[:20_000]):
            found.extend(m.lower() for m in _EMAIL_IN_TEXT.findall(match.group(2)))
    return _unique(found)[:MAX_ADDRESSES]


# --- Entry point --------------------------------------------------------------------------------


def parse_email(raw: bytes, *, envelope_recipients: list[str] | tuple[str, ...] = ()) -> ParsedEmail:
    """Parse ``raw`` (the bytes of one message); ``NotAnEmail`` when it is not one."""
    if not raw.strip():
        raise NotAnEmail(_("The message is empty."))
    if b"\x00" in raw[:65536]:
        raise NotAnEmail(_("The message contains NUL bytes: it is binary data, not an email."))
    try:
        msg: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception as exc:  # noqa: BLE001 - whatever the parser trips on is bad input
        raise NotAnEmail(_("The message could not be parsed: %(error)s") % {"error": exc}) from None
    if not msg.keys():
        raise NotAnEmail(_("The message has no header section."))
    senders = _addresses(_header_all(msg, "From")) or _addresses(_header_all(msg, "Sender"))
    if not senders:
        raise NotAnEmail(_("The message has no From address: it is not an RFC 822 email."))
    from_name, from_address = senders[0]
    to = _addresses(_header_all(msg, "To"))
    cc = _addresses(_header_all(msg, "Cc"))
    recipients = [clean_text(r).strip().strip("<>").lower() for r in envelope_recipients if r]
    for name in ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To", "Cc", "Bcc"):
        recipients.extend(a for _n, a in _addresses(_header_all(msg, name)))
    subject = _one_line(_header(msg, "Subject"), 300)
    message_id = _one_line(_header(msg, "Message-ID"), 500).strip("<>")
    try:
        body, attachments, inner = _body_and_attachments(msg)
        forwarded = _forwarded_addresses(subject, body, inner)
    except RecursionError:
        raise NotAnEmail(_("The message's parts are nested too deeply.")) from None
    return ParsedEmail(
        message_id=message_id,
        subject=subject,
        from_name=from_name,
        from_address=from_address,
        to=_unique([a for _n, a in to]),
        cc=_unique([a for _n, a in cc]),
        recipients=_unique(recipients)[:MAX_ADDRESSES],
        sent_at=_date(msg),
        body=body,
        attachments=attachments,
        forwarded=forwarded,
    )
