//! Feed bytes to UTF-8 text.
//!
//! feed-rs decodes only by the XML declaration: it fails when the charset is given only
//! in `Content-Type`, garbles UTF-8 bytes under a wrong declaration, and rejects UTF-16.
//! So every feed is turned into UTF-8 here first, deciding the encoding in this order:
//! a byte-order mark; UTF-32 and UTF-16 without one (recognised by the zero bytes around
//! their first character); bytes that are valid UTF-8; the HTTP `charset`; the declaration's `encoding`; and last a guess
//! from the bytes (chardetng). The declaration is then rewritten to say UTF-8, so the
//! parser sees one consistent document.

use std::io::Read;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};

use super::counted;

/// A feed document as UTF-8, with what had to be done to get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    /// The encoding the bytes were read in.
    pub encoding: &'static str,
    /// Repairs worth telling the operator about (empty for a well-formed feed).
    pub repairs: Vec<String>,
}

/// Why bytes could not be turned into text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("the body is empty")]
    Empty,
    #[error("gzip data that does not decompress: {0}")]
    BadGzip(String),
    #[error(
        "the decompressed body is larger than `max_body` ({}): a compression bomb, or a feed larger than that",
        bytesize::ByteSize::b(*.0)
    )]
    TooLarge(u64),
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];

/// Decompresses gzip data: every member, as `gzip -d` does, ignoring what follows the
/// last one (a newline a script printed after the file, say) as it does too.
fn gunzip(bytes: &[u8], limit: u64) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.starts_with(GZIP_MAGIC) {
        let mut member = flate2::bufread::GzDecoder::new(rest);
        (&mut member)
            .take(limit + 1 - out.len() as u64)
            .read_to_end(&mut out)
            .map_err(|e| DecodeError::BadGzip(e.to_string()))?;
        if out.len() as u64 > limit {
            return Err(DecodeError::TooLarge(limit));
        }
        rest = member.into_inner();
    }
    Ok(out)
}

/// How far gzip data in a file the operator names (`test-rule --file`, `import-opml`)
/// may expand: no server's `max_body` applies, but a gzip bomb still stops.
pub const LOCAL_FILE_LIMIT: u64 = 256 << 20;

/// Decodes feed bytes to UTF-8. `http_charset` is the `charset` parameter of the
/// response's `Content-Type`, if any; `limit` caps the size of sniffed gzip data.
pub fn decode(
    bytes: &[u8],
    http_charset: Option<&str>,
    limit: u64,
) -> Result<Decoded, DecodeError> {
    let mut repairs = Vec::new();
    let gunzipped;
    let mut bytes = bytes;
    // Some servers send gzip bytes without saying so in Content-Encoding.
    if bytes.starts_with(GZIP_MAGIC) {
        gunzipped = gunzip(bytes, limit)?;
        bytes = &gunzipped;
        repairs.push("gzip-compressed body without Content-Encoding, decompressed".to_owned());
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DecodeError::Empty);
    }
    // UTF-32 before every other test: its little-endian byte-order mark begins with
    // UTF-16's, and its zero bytes are valid UTF-8. (encoding_rs, after the WHATWG
    // standard, has no UTF-32.)
    if let Some((big_endian, start)) = sniff_utf32(bytes) {
        let (text, invalid) = decode_utf32(&bytes[start..], big_endian);
        if invalid > 0 {
            repairs.push(format!(
                "{} invalid in UTF-32, replaced with U+FFFD",
                counted(invalid, "character", "characters")
            ));
        }
        let name = if big_endian { "UTF-32BE" } else { "UTF-32LE" };
        return Ok(decoded(text, name, repairs));
    }

    // Most feeds are UTF-8: validate once and copy once.
    if Encoding::for_bom(bytes).is_none()
        && sniff_utf16(bytes).is_none()
        && let Ok(text) = std::str::from_utf8(bytes)
    {
        return Ok(decoded(text.to_owned(), UTF_8.name(), repairs));
    }
    let (encoding, body) = choose_encoding(bytes, http_charset, &mut repairs);
    let (text, had_errors) = encoding.decode_without_bom_handling(body);
    if had_errors {
        repairs.push(format!(
            "bytes invalid in {}, replaced with U+FFFD",
            encoding.name()
        ));
    }
    Ok(decoded(text.into_owned(), encoding.name(), repairs))
}

/// The document decoded from `encoding`, its declaration saying UTF-8 and any text
/// encoded as UTF-8 twice read back (`mojibake`).
fn decoded(text: String, encoding: &'static str, mut repairs: Vec<String>) -> Decoded {
    let mut text = rewrite_declaration(text);
    if let Some((count, written, meant)) = super::mojibake::read_back(&mut text) {
        repairs.push(format!(
            "{} encoded as UTF-8 twice (\"{written}\" for \"{meant}\"), read back",
            counted(count, "character", "characters")
        ));
    }
    Decoded {
        text,
        encoding,
        repairs,
    }
}

/// UTF-32: whether it is big endian, and where the text starts. By its byte-order mark
/// (`FF FE 00 00` is UTF-32's, not UTF-16's followed by U+0000, which XML cannot hold),
/// or without one by a first character of three zero bytes and one other — as the XML
/// standard's appendix F detects it.
fn sniff_utf32(bytes: &[u8]) -> Option<(bool, usize)> {
    match bytes.get(..4)? {
        [0, 0, 0xFE, 0xFF] => Some((true, 4)),
        [0xFF, 0xFE, 0, 0] => Some((false, 4)),
        [0, 0, 0, c] if *c != 0 => Some((true, 0)),
        [c, 0, 0, 0] if *c != 0 => Some((false, 0)),
        _ => None,
    }
}

/// UTF-32 bytes as text, and how many characters were invalid (a value that is no
/// Unicode scalar, or bytes left over at the end), each replaced with U+FFFD.
fn decode_utf32(bytes: &[u8], big_endian: bool) -> (String, usize) {
    let chunks = bytes.chunks_exact(4);
    let mut invalid = usize::from(!chunks.remainder().is_empty());
    let mut text = String::with_capacity(bytes.len() / 4);
    for chunk in chunks {
        let word = [chunk[0], chunk[1], chunk[2], chunk[3]];
        let value = if big_endian {
            u32::from_be_bytes(word)
        } else {
            u32::from_le_bytes(word)
        };
        text.push(char::from_u32(value).unwrap_or_else(|| {
            invalid += 1;
            char::REPLACEMENT_CHARACTER
        }));
    }
    if !bytes.len().is_multiple_of(4) {
        text.push(char::REPLACEMENT_CHARACTER);
    }
    (text, invalid)
}

/// UTF-16 without a byte-order mark: the encoding and where the text starts. XML holds
/// no zero byte, so a document whose first `<` has a zero byte beside it is UTF-16, little
/// endian when the `<` comes first in its pair of bytes (at an even offset), big endian
/// when it comes second — with a declaration (`<?xml`) or without one (`<rss`), and after
/// any whitespace.
fn sniff_utf16(bytes: &[u8]) -> Option<(&'static Encoding, usize)> {
    let start = bytes
        .iter()
        .position(|&b| b != 0 && !b.is_ascii_whitespace())?;
    let next = bytes.get(start + 1..start + 4)?;
    if bytes[start] != b'<' || next[0] != 0 || next[1] == 0 {
        return None;
    }
    if start % 2 == 0 && next[2] == 0 {
        Some((UTF_16LE, start))
    } else if start % 2 == 1 && bytes[start - 1] == 0 {
        Some((UTF_16BE, start - 1))
    } else {
        None
    }
}

/// Picks the encoding and returns the bytes to decode (without any BOM).
fn choose_encoding<'b>(
    bytes: &'b [u8],
    http_charset: Option<&str>,
    repairs: &mut Vec<String>,
) -> (&'static Encoding, &'b [u8]) {
    if let Some((encoding, bom)) = Encoding::for_bom(bytes) {
        return (encoding, &bytes[bom..]);
    }
    if let Some((encoding, start)) = sniff_utf16(bytes) {
        return (encoding, &bytes[start..]);
    }
    if std::str::from_utf8(bytes).is_ok() {
        return (UTF_8, bytes);
    }
    let label = |l: &str| {
        Encoding::for_label(l.trim().as_bytes())
            .filter(|e| *e != UTF_16LE && *e != UTF_16BE && *e != UTF_8)
    };
    if let Some(encoding) = http_charset.and_then(label) {
        return (encoding, bytes);
    }
    if let Some(encoding) = declared_encoding(bytes).and_then(|d| label(&d)) {
        return (encoding, bytes);
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    let guess = detector.guess(None, chardetng::Utf8Detection::Allow);
    repairs.push(format!(
        "no usable charset declared and the bytes are not UTF-8; read as {} (a guess)",
        guess.name()
    ));
    (guess, bytes)
}

/// The `encoding` of an XML declaration at the start of the bytes.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(512)];
    let head = String::from_utf8_lossy(head);
    let decl_start = head.find("<?xml")?;
    let decl = &head[decl_start..decl_start + head[decl_start..].find("?>")?];
    let at = decl.find("encoding")? + "encoding".len();
    let rest = decl[at..].trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|&c| c == '"' || c == '\'')?;
    let value = &rest[1..];
    Some(value[..value.find(quote)?].to_owned())
}

/// Makes the XML declaration (if any) say UTF-8, which is what the text now is.
fn rewrite_declaration(text: String) -> String {
    let lead = text.len() - text.trim_start().len();
    let rest = &text[lead..];
    if !rest.starts_with("<?xml") {
        return text;
    }
    let Some(end) = rest.find("?>") else {
        return text;
    };
    let decl = &rest[..end];
    let Some(at) = decl.find("encoding") else {
        return text;
    };
    let value = decl[at + "encoding".len()..].trim_start();
    let Some(value) = value.strip_prefix('=').map(str::trim_start) else {
        return text;
    };
    let Some(quote) = value.chars().next().filter(|&c| c == '"' || c == '\'') else {
        return text;
    };
    let Some(close) = value[1..].find(quote) else {
        return text;
    };
    let value_start = lead + (decl.len() - value.len());
    let value_end = value_start + close + 2;
    let mut text = text;
    text.replace_range(value_start..value_end, "\"UTF-8\"");
    text
}

/// The `charset` parameter of a `Content-Type` header value.
pub fn charset_of(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(['"', '\'']).to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: u64 = 1 << 20;

    fn feed_with(title: &str, decl: Option<&str>) -> String {
        let decl = decl
            .map(|e| format!("<?xml version=\"1.0\" encoding=\"{e}\"?>\n"))
            .unwrap_or_default();
        format!("{decl}<rss version=\"2.0\"><channel><title>{title}</title></channel></rss>")
    }

    fn encode(text: &str, encoding: &'static Encoding) -> Vec<u8> {
        let (bytes, _, errors) = encoding.encode(text);
        assert!(!errors);
        bytes.into_owned()
    }

    #[test]
    fn windows_1251_by_declaration_header_or_guess() {
        let title = "Песков заявил о переговорах по Украине";
        let enc = encoding_rs::WINDOWS_1251;
        for (decl, header) in [
            (Some("windows-1251"), None),
            (None, Some("windows-1251")),
            (None, None),
            // A header that names UTF-8 or UTF-16 for bytes that are neither is wrong:
            // the declaration decides.
            (Some("windows-1251"), Some("utf-8")),
            (Some("windows-1251"), Some("utf-16")),
            (Some("windows-1251"), Some("utf-16be")),
        ] {
            let bytes = encode(&feed_with(title, decl), enc);
            let decoded = decode(&bytes, header, LIMIT).unwrap();
            assert!(
                decoded.text.contains(title),
                "{decl:?} {header:?}: {}",
                decoded.text
            );
            assert_eq!(decoded.encoding, "windows-1251");
            if decl.is_some() || header.is_some() {
                assert!(
                    decoded.repairs.is_empty(),
                    "not a guess: {:?}",
                    decoded.repairs
                );
            }
        }
    }

    #[test]
    fn koi8_r_by_declaration_and_header() {
        let title = "Кремль: переговоры продолжаются";
        for (decl, header) in [(Some("koi8-r"), None), (None, Some("KOI8-R"))] {
            let bytes = encode(&feed_with(title, decl), encoding_rs::KOI8_R);
            let decoded = decode(&bytes, header, LIMIT).unwrap();
            assert!(decoded.text.contains(title), "{}", decoded.text);
            assert_eq!(decoded.encoding, "KOI8-R");
            assert!(
                decoded.repairs.is_empty(),
                "not a guess: {:?}",
                decoded.repairs
            );
        }
        // A declaration after a line break, its value in single quotes, spaced out.
        let text = format!(
            "\n<?xml version='1.0' encoding = 'koi8-r' ?><rss version=\"2.0\"><channel>\
             <title>{title}</title></channel></rss>"
        );
        let decoded = decode(&encode(&text, encoding_rs::KOI8_R), None, LIMIT).unwrap();
        assert!(decoded.text.contains(title), "{}", decoded.text);
        assert!(
            decoded.repairs.is_empty(),
            "not a guess: {:?}",
            decoded.repairs
        );
        assert!(
            decoded.text.contains("encoding = \"UTF-8\""),
            "the declaration is rewritten: {}",
            decoded.text
        );
    }

    #[test]
    fn iso_8859_1_by_declaration_header_or_neither() {
        let title = "Réouverture de l'ambassade à Kyiv";
        let enc = encoding_rs::WINDOWS_1252;
        for (decl, header) in [
            (Some("ISO-8859-1"), None),
            (None, Some("iso-8859-1")),
            (None, None),
        ] {
            let bytes = encode(&feed_with(title, decl), enc);
            let decoded = decode(&bytes, header, LIMIT).unwrap();
            assert!(
                decoded.text.contains(title),
                "{decl:?} {header:?}: {}",
                decoded.text
            );
            if decl.is_some() || header.is_some() {
                assert_eq!(decoded.encoding, "windows-1252");
                assert!(
                    decoded.repairs.is_empty(),
                    "not a guess: {:?}",
                    decoded.repairs
                );
            }
        }
    }

    #[test]
    fn utf16_with_and_without_bom() {
        let text = feed_with("Συνομιλίες για την Ουκρανία", Some("UTF-16"));
        let mut le: Vec<u8> = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let mut be: Vec<u8> = vec![0xFE, 0xFF];
        be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        let bare_le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let bare_be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let indented = format!("\n  {text}");
        let indented_le: Vec<u8> = indented.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let indented_be: Vec<u8> = indented.encode_utf16().flat_map(u16::to_be_bytes).collect();
        for bytes in [le, be, bare_le, bare_be, indented_le, indented_be] {
            let decoded = decode(&bytes, None, LIMIT).unwrap();
            assert!(decoded.text.contains("Συνομιλίες"), "{}", decoded.text);
            assert!(
                decoded
                    .text
                    .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
                "{}",
                decoded.text
            );
        }
    }

    #[test]
    fn utf32_with_and_without_bom() {
        let text = feed_with("Переговоры 🕊 по Украине", Some("UTF-32"));
        let le =
            |t: &str| -> Vec<u8> { t.chars().flat_map(|c| u32::from(c).to_le_bytes()).collect() };
        let be =
            |t: &str| -> Vec<u8> { t.chars().flat_map(|c| u32::from(c).to_be_bytes()).collect() };
        let indented = format!(" {text}");
        for (bytes, encoding) in [
            ([&[0xFF, 0xFE, 0, 0][..], &le(&text)].concat(), "UTF-32LE"),
            ([&[0, 0, 0xFE, 0xFF][..], &be(&text)].concat(), "UTF-32BE"),
            (le(&text), "UTF-32LE"),
            (be(&text), "UTF-32BE"),
            (le(&indented), "UTF-32LE"),
            (be(&indented), "UTF-32BE"),
        ] {
            let decoded = decode(&bytes, None, LIMIT).unwrap();
            assert_eq!(decoded.encoding, encoding);
            assert_eq!(decoded.text.trim_start(), text.replace("UTF-32", "UTF-8"));
            assert!(decoded.repairs.is_empty(), "{:?}", decoded.repairs);
        }
        // A value that is no character, and a last character cut short.
        let mut bytes = le("<rss>");
        bytes.extend(0xD800_u32.to_le_bytes());
        bytes.extend([b'x', 0]);
        let decoded = decode(&bytes, None, LIMIT).unwrap();
        assert_eq!(decoded.text, "<rss>\u{FFFD}\u{FFFD}");
        assert_eq!(
            decoded.repairs,
            ["2 characters invalid in UTF-32, replaced with U+FFFD"]
        );
    }

    #[test]
    fn utf16_without_bom_or_declaration() {
        // No byte-order mark and no `<?xml`: only the zero bytes beside the markup say
        // UTF-16 — and such bytes are valid UTF-8 too, so they must not be read as that.
        let text = feed_with("Переговоры об Украине", None);
        for (bytes, encoding) in [
            (
                text.encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect::<Vec<u8>>(),
                "UTF-16LE",
            ),
            (
                text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
                "UTF-16BE",
            ),
        ] {
            assert!(std::str::from_utf8(&bytes).is_ok());
            for header in [None, Some("utf-16")] {
                let decoded = decode(&bytes, header, LIMIT).unwrap();
                assert_eq!(decoded.text, text);
                assert_eq!(decoded.encoding, encoding);
            }
        }
        // A zero byte elsewhere does not make a UTF-8 document UTF-16.
        let odd = b"<rss version=\"2.0\"><channel><title>a\0b</title></channel></rss>";
        assert_eq!(decode(odd, None, LIMIT).unwrap().encoding, "UTF-8");
    }

    #[test]
    fn valid_utf8_wins_over_a_wrong_declaration_or_header() {
        let text = feed_with("Песков", Some("windows-1251"));
        let decoded = decode(text.as_bytes(), Some("iso-8859-1"), LIMIT).unwrap();
        assert!(decoded.text.contains("Песков"));
        assert!(
            decoded.text.contains("encoding=\"UTF-8\""),
            "the declaration is rewritten"
        );
        assert!(decoded.repairs.is_empty());
    }

    #[test]
    fn utf8_bom_is_dropped() {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice(feed_with("x", None).as_bytes());
        assert!(
            decode(&bytes, None, LIMIT)
                .unwrap()
                .text
                .starts_with("<rss")
        );
    }

    #[test]
    fn sniffed_gzip_is_decompressed_within_the_limit() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(feed_with("hello", None).as_bytes()).unwrap();
        let bytes = gz.finish().unwrap();
        let decoded = decode(&bytes, None, LIMIT).unwrap();
        assert!(decoded.text.contains("hello"));
        assert_eq!(decoded.repairs.len(), 1);
        assert_eq!(decode(&bytes, None, 10), Err(DecodeError::TooLarge(10)));
        // Exactly at the limit is within it.
        let size = feed_with("hello", None).len() as u64;
        assert!(decode(&bytes, None, size).is_ok());
        assert_eq!(
            decode(&bytes, None, size - 1),
            Err(DecodeError::TooLarge(size - 1))
        );
        // A file the operator names may hold a large feed, gzipped.
        let large = feed_with(&"x".repeat(4 << 20), None);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(large.as_bytes()).unwrap();
        let bytes = gz.finish().unwrap();
        assert_eq!(decode(&bytes, None, LOCAL_FILE_LIMIT).unwrap().text, large);
    }

    #[test]
    fn zero_bytes_alone_are_no_utf16_or_utf32_markup() {
        // Four zero bytes first: not a UTF-32 character. A `<` with two zero bytes after
        // it: not UTF-16, whose next character would be a zero byte and another (in
        // little-endian UTF-16, three zero bytes after `<` are UTF-32); nor is a `<`
        // without a zero byte after it or with one alone, or a first character other
        // than `<`.
        for bytes in [
            &b"\0\0\0\0<rss version=\"2.0\"/>"[..],
            b"<rss version=\"2.0\"/>\0\0\0\0",
            b"\0<\0\0rss/>",
            b"<r\0s\0s/>",
            b"x\0r\0s\0s\0",
            // A lone zero byte after `<`, at the start or after other bytes.
            b"<\0rss/>",
            b" \0<\0rss/>",
            b" <\0rss/>",
        ] {
            let decoded = decode(bytes, None, LIMIT).unwrap();
            assert_eq!(decoded.encoding, "UTF-8", "{bytes:?}");
        }
    }

    #[test]
    fn sniffed_gzip_reads_every_member_and_ignores_what_trails_them() {
        use std::io::Write;
        let gzip = |text: &str| {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(text.as_bytes()).unwrap();
            gz.finish().unwrap()
        };
        let feed = feed_with("hello", None);
        let (head, tail) = feed.split_at(feed.len() / 2);
        let members = [gzip(head), gzip(tail)].concat();
        assert_eq!(decode(&members, None, LIMIT).unwrap().text, feed);
        for trailer in [&b"\n"[..], b"\r\n\0\0", b"<!-- served by a script -->"] {
            let bytes = [members.as_slice(), trailer].concat();
            assert_eq!(
                decode(&bytes, None, LIMIT).unwrap().text,
                feed,
                "{trailer:?}"
            );
        }
        // The limit counts every member.
        let limit = feed.len() as u64 - 1;
        assert_eq!(
            decode(&members, None, limit),
            Err(DecodeError::TooLarge(limit))
        );
        // A member cut short is still an error.
        let cut = &members[..members.len() - 5];
        assert!(matches!(
            decode(cut, None, LIMIT),
            Err(DecodeError::BadGzip(_))
        ));
    }

    #[test]
    fn empty_bodies_are_an_error() {
        assert_eq!(decode(b"", None, LIMIT), Err(DecodeError::Empty));
        assert_eq!(decode(b" \n\t", None, LIMIT), Err(DecodeError::Empty));
    }

    #[test]
    fn charset_parameter() {
        assert_eq!(
            charset_of("application/rss+xml; charset=\"KOI8-R\"").as_deref(),
            Some("KOI8-R")
        );
        assert_eq!(
            charset_of("text/xml;Charset=utf-8").as_deref(),
            Some("utf-8")
        );
        assert_eq!(charset_of("text/xml"), None);
    }
}
