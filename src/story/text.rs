//! Feed HTML to plain text.
//!
//! Matching wants words, and alerts want text that is safe to show: both get plain text
//! with tags removed (the contents of `script` and `style` with them), entities decoded
//! and whitespace collapsed. Nothing of the markup survives, so nothing active can reach
//! an email; the renderer still escapes the text for HTML.

use std::borrow::Cow;

/// What to call a story where a title is shown: its title, or for an entry without one
/// (a microblog post, a Mastodon status) the start of its summary or content, cut at a
/// word and marked `…` past [`HEADLINE_CHARS`] characters.
pub fn headline<'a>(title: &'a str, summary: &'a str, content: &'a str) -> Cow<'a, str> {
    if !title.is_empty() {
        return Cow::Borrowed(title);
    }
    let text = if summary.is_empty() { content } else { summary };
    match text.char_indices().nth(HEADLINE_CHARS) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => {
            let head = &text[..cut];
            let head = head
                .rfind(' ')
                .filter(|&space| space > cut / 2)
                .map_or(head, |space| &head[..space]);
            Cow::Owned(format!("{}…", head.trim_end()))
        }
    }
}

/// `n` and the noun for it: "1 story", "3 stories".
pub fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The most characters of a story's text a [`headline`] shows.
pub const HEADLINE_CHARS: usize = 100;

/// What an element means for the text around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagKind {
    /// Words may run on across it (`Pes<b>kov</b>` is one word).
    Inline,
    /// Words must not run together across it.
    Block,
    /// Its contents are not text.
    Skipped,
}

/// The kind of the element named `name`, in any case. One `match` on the lower-cased
/// name: feed HTML has a tag every few words, so this runs often.
fn tag_kind(name: &str) -> TagKind {
    let mut lower = [0u8; 10];
    let Some(name_bytes) = lower.get_mut(..name.len()) else {
        return TagKind::Inline; // longer than any name below
    };
    name_bytes.copy_from_slice(name.as_bytes());
    name_bytes.make_ascii_lowercase();
    match &*name_bytes {
        b"address" | b"article" | b"aside" | b"blockquote" | b"br" | b"dd" | b"div" | b"dl"
        | b"dt" | b"figcaption" | b"figure" | b"footer" | b"h1" | b"h2" | b"h3" | b"h4" | b"h5"
        | b"h6" | b"header" | b"hr" | b"img" | b"li" | b"main" | b"nav" | b"ol" | b"p" | b"pre"
        | b"section" | b"table" | b"td" | b"th" | b"tr" | b"ul" => TagKind::Block,
        b"script" | b"style" | b"noscript" | b"template" | b"iframe" | b"object" => {
            TagKind::Skipped
        }
        _ => TagKind::Inline,
    }
}

/// Converts a piece of feed text (HTML or plain) to plain text, in one pass: tags
/// dropped, entities decoded, whitespace collapsed. Text escaped twice (`&amp;lt;p&amp;gt;`
/// in the feed, `&amp;nbsp;`), whose first reading still shows entities, is read once more.
pub fn to_plain_text(input: &str) -> String {
    let text = html_to_text(input);
    if shows_an_entity(&text) {
        // What the first reading shows is the HTML, escaped once more.
        html_to_text(&html_escape::decode_html_entities(&text))
    } else {
        text
    }
}

/// Whether plain text holds an HTML entity: what only text escaped twice shows, unless
/// it writes about HTML itself.
fn shows_an_entity(text: &str) -> bool {
    memchr::memchr_iter(b'&', text.as_bytes()).any(|at| {
        let rest = &text.as_bytes()[at + 1..];
        let Some(end) = rest.iter().take(9).position(|&b| b == b';') else {
            return false;
        };
        match &rest[..end] {
            b"lt" | b"gt" | b"amp" | b"quot" | b"apos" | b"nbsp" => true,
            [b'#', b'x' | b'X', hex @ ..] => {
                (2..=6).contains(&hex.len()) && hex.iter().all(u8::is_ascii_hexdigit)
            }
            [b'#', digits @ ..] => {
                (2..=7).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit)
            }
            _ => false,
        }
    })
}

/// [`to_plain_text`]'s one reading.
fn html_to_text(input: &str) -> String {
    let mut text = Text {
        out: String::with_capacity(input.len()),
        space: false,
    };
    let mut rest = input;
    while let Some(lt) = memchr::memchr(b'<', rest.as_bytes()) {
        text.push_run(&rest[..lt]);
        rest = &rest[lt..];
        let after = &rest[1..];
        // `<` that starts no tag ("a < b") is text.
        let starts_tag = after
            .starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!' || c == '?');
        if !starts_tag {
            text.push_run("<");
            rest = after;
            continue;
        }
        if let Some(comment) = rest.strip_prefix("<!--") {
            rest = comment.find("-->").map_or("", |e| &comment[e + 3..]);
            continue;
        }
        let Some(gt) = memchr::memchr(b'>', rest.as_bytes()) else {
            // An unclosed tag at the end: drop it.
            rest = "";
            break;
        };
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        let closing = tag.starts_with('/');
        let name = tag.trim_start_matches('/');
        let name = &name[..name
            .bytes()
            .position(|b| !b.is_ascii_alphanumeric())
            .unwrap_or(name.len())];
        match tag_kind(name) {
            TagKind::Inline => {}
            TagKind::Block => text.space = true,
            TagKind::Skipped => {
                if !closing && !tag.ends_with('/') {
                    rest = after_close_tag(rest, name);
                }
                text.space = true;
            }
        }
    }
    text.push_run(rest);
    text.out
}

/// What follows the close tag `</name ...>` (case-insensitive) in `rest`, or nothing
/// when the element is never closed.
fn after_close_tag<'t>(rest: &'t str, name: &str) -> &'t str {
    let mut from = 0;
    while let Some(at) = memchr::memmem::find(&rest.as_bytes()[from..], b"</") {
        let tag = &rest[from + at + 2..];
        let named = tag
            .get(..name.len())
            .is_some_and(|n| n.eq_ignore_ascii_case(name));
        if named {
            return tag.find('>').map_or("", |end| &tag[end + 1..]);
        }
        from += at + 2;
    }
    ""
}

/// Plain text being built, with a space owed before the next word.
struct Text {
    out: String,
    space: bool,
}

impl Text {
    /// Appends one word, after a space if one is owed.
    fn push_word(&mut self, word: &str) {
        if self.space && !self.out.is_empty() {
            self.out.push(' ');
        }
        self.space = false;
        self.out.push_str(word);
    }

    /// Appends text found between tags: entities decoded, whitespace collapsed.
    ///
    /// Text is copied in pieces as long as its words are separated by single spaces,
    /// which is most prose, rather than word by word.
    fn push_run(&mut self, run: &str) {
        let decoded;
        let run = if run.contains('&') {
            decoded = html_escape::decode_html_entities(run);
            &*decoded
        } else {
            run
        };
        let bytes = run.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let space = whitespace_at(run, i);
            if space > 0 {
                self.space = true;
                i += space;
                continue;
            }
            let start = i;
            while i < bytes.len() {
                match bytes[i] {
                    // Printable ASCII other than the space.
                    0x21..=0x7E => i += 1,
                    // A lone space between two words stays inside the piece.
                    b' ' if matches!(bytes.get(i + 1), Some(0x21..=0x7E)) => i += 2,
                    b' ' if i + 1 < bytes.len() && whitespace_at(run, i + 1) == 0 => i += 1,
                    _ => match whitespace_at(run, i) {
                        0 => i += run[i..].chars().next().map_or(1, char::len_utf8),
                        _ => break,
                    },
                }
            }
            self.push_word(&run[start..i]);
        }
    }
}

/// The byte length of the whitespace character at byte `i` of `text`, or 0. A control
/// character (a NUL or an escape a publishing system let through, a C1 control left by
/// a wrong charset) is read as whitespace: it is no part of a word and not for display.
fn whitespace_at(text: &str, i: usize) -> usize {
    match text.as_bytes()[i] {
        b @ 0..0x80 => usize::from(b.is_ascii_whitespace() || b.is_ascii_control()),
        _ => text[i..]
            .chars()
            .next()
            .filter(|c| c.is_whitespace() || c.is_control())
            .map_or(0, char::len_utf8),
    }
}

#[cfg(test)]
mod tests {
    use super::to_plain_text;

    #[test]
    fn strips_tags_and_decodes_entities() {
        assert_eq!(
            to_plain_text("<p>Peskov&nbsp;said:</p><p>&laquo;No&raquo; &amp; more</p>"),
            "Peskov said: «No» & more"
        );
        assert_eq!(to_plain_text("Pes<b>kov</b> a<br/>b"), "Peskov a b");
        assert_eq!(to_plain_text("a < b and c > d"), "a < b and c > d");
    }

    #[test]
    fn reads_text_escaped_twice_once_more() {
        // As a feed's XML gives them, once read: the HTML itself escaped again.
        assert_eq!(
            to_plain_text(
                "&amp;lt;!-- SC_OFF --&amp;gt;&amp;lt;div class=&amp;quot;md&amp;quot;&amp;gt;\
                 &amp;lt;p&amp;gt;Hey Reddit&amp;lt;/p&amp;gt;"
            ),
            "Hey Reddit"
        );
        assert_eq!(
            to_plain_text("bajar hasta un 20&amp;nbsp;% en julio"),
            "bajar hasta un 20 % en julio"
        );
        assert_eq!(
            to_plain_text("Таволга, или Лаба&amp;#769;зник (лат. Filip&amp;#233;ndula)"),
            "Таволга, или Лаба\u{301}зник (лат. Filipéndula)"
        );
        assert_eq!(to_plain_text("AT&amp;amp;T"), "AT&T");
        // Escaped once, as it should be, text keeps its ampersands and brackets; what is
        // no entity is text.
        assert_eq!(to_plain_text("AT&amp;T &lt;3 &amp;c"), "AT&T <3 &c");
        assert_eq!(
            to_plain_text("R&D; Q&A;x &x1; &#1;"),
            "R&D; Q&A;x &x1; &#1;"
        );
        // A tag written about, escaped once, is text; read again it would be dropped.
        assert_eq!(to_plain_text("Use &lt;b&gt; for bold"), "Use <b> for bold");
        // A character reference escaped twice, in hexadecimal.
        assert_eq!(to_plain_text("1990&amp;#x2013;1995"), "1990–1995");
        // What only looks like a reference (not hexadecimal, too short) is no sign of
        // text escaped twice: the tag beside it stays.
        for text in ["&lt;b&gt; &amp;#xZZ;", "&lt;b&gt; &amp;#1;"] {
            assert!(to_plain_text(text).starts_with("<b> &#"), "{text}");
        }
    }

    #[test]
    fn drops_active_content() {
        let hostile = r#"<script>alert(1)</script><img src=x onerror="alert(2)">Hi<style>p{}</style><!-- c --><SCRIPT>x</SCRIPT>"#;
        assert_eq!(to_plain_text(hostile), "Hi");
        assert_eq!(to_plain_text("ok <script>never closed"), "ok");
    }

    #[test]
    fn collapses_unicode_whitespace() {
        assert_eq!(
            to_plain_text("a\u{a0}b\u{2003}\u{3000}c \u{85}d\r\n"),
            "a b c d"
        );
        assert_eq!(
            to_plain_text("Москва\u{a0}— <i>Кремль</i>"),
            "Москва — Кремль"
        );
        assert_eq!(to_plain_text("x<Script type=a>y</SCRIPT >z"), "x z");
        // Control characters are not words, nor anything to show.
        assert_eq!(
            to_plain_text("Pes\u{0}kov\u{1a} \u{8}talks\u{7f}\u{9c}end"),
            "Pes kov talks end"
        );
    }

    proptest::proptest! {
        /// Text without markup comes out as its words joined by single spaces, control
        /// characters counting as spaces.
        #[test]
        fn collapses_whitespace_like_split_whitespace(
            text in "[a-cé—Ж \t\n\r\u{a0}\u{2003}\u{b}\u{1}\u{0}\u{7f}\u{9c}]{0,30}"
        ) {
            let words: Vec<&str> = text
                .split(|c: char| c.is_whitespace() || c.is_control())
                .filter(|w| !w.is_empty())
                .collect();
            proptest::prop_assert_eq!(to_plain_text(&text), words.join(" "));
        }
    }

    #[test]
    fn a_story_without_a_title_is_called_by_its_first_words() {
        use super::headline;
        assert_eq!(headline("Title", "Summary", ""), "Title");
        assert_eq!(headline("", "Short post", "Content"), "Short post");
        assert_eq!(headline("", "", "Only content"), "Only content");
        let long = "Песков: ".to_owned() + &"слово ".repeat(30);
        let called = headline("", &long, "");
        assert!(called.ends_with("слово…"), "{called}");
        assert!(called.chars().count() <= 101, "{called}");
        let unbroken = "x".repeat(150);
        assert_eq!(headline("", "", &unbroken), "x".repeat(100) + "…");
        // The last space before the limit in its first half: too short a headline to cut
        // there, so it is cut at the limit; just past the half, at the space.
        let early = "a".repeat(50) + " " + &"b".repeat(60);
        assert_eq!(
            headline("", "", &early),
            "a".repeat(50) + " " + &"b".repeat(49) + "…"
        );
        let later = "a".repeat(51) + " " + &"b".repeat(60);
        assert_eq!(headline("", "", &later), "a".repeat(51) + "…");
    }

    #[test]
    fn block_and_skipped_elements_in_any_case() {
        assert_eq!(
            to_plain_text("a<BlockQuote>b</BLOCKQUOTE>c<FigCaption>d</figcaption>e"),
            "a b c d e"
        );
        assert_eq!(to_plain_text("a<Iframe src=x>b</IFRAME>c"), "a c");
        // Inline elements, unknown ones and names longer than any listed join words.
        assert_eq!(
            to_plain_text("Pes<SPAN>kov</span> x<blockquotes>y"),
            "Peskov xy"
        );
        assert_eq!(to_plain_text("x<aaaaaaaaaaaaaaaaaaaa>y<p>z"), "xy z");
        // A skipped element's contents end at its own close tag, past other ones; a
        // close tag alone or an element closed in its own tag skips nothing.
        assert_eq!(
            to_plain_text("a<script>w('</p>', '</b>')</SCRIPT >b"),
            "a b"
        );
        assert_eq!(to_plain_text("a<style>p { }</p></style>b"), "a b");
        assert_eq!(to_plain_text("a</script>b"), "a b");
        assert_eq!(to_plain_text("a<script src=x />b"), "a b");
    }

    #[test]
    fn plain_text_passes_through() {
        assert_eq!(to_plain_text("  Peskov\n\tsaid  "), "Peskov said");
    }
}
