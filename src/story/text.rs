//! Feed HTML to plain text.
//!
//! Matching wants words, and alerts want text that is safe to show: both get plain text
//! with tags removed (the contents of `script` and `style` with them), entities decoded
//! and whitespace collapsed. Nothing of the markup survives, so nothing active can reach
//! an email; the renderer still escapes the text for HTML.

/// Tags after which words must not run together.
const BLOCK_TAGS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "img",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "tr",
    "ul",
];

/// Tags whose contents are not text.
const SKIPPED_TAGS: &[&str] = &[
    "script", "style", "noscript", "template", "iframe", "object",
];

/// Converts a piece of feed text (HTML or plain) to plain text, in one pass: tags
/// dropped, entities decoded, whitespace collapsed.
pub fn to_plain_text(input: &str) -> String {
    let mut text = Text {
        out: String::with_capacity(input.len()),
        space: false,
    };
    let mut rest = input;
    while let Some(lt) = rest.find('<') {
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
        let Some(gt) = rest.find('>') else {
            // An unclosed tag at the end: drop it.
            rest = "";
            break;
        };
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if BLOCK_TAGS.contains(&name.as_str()) {
            text.space = true;
        }
        if !closing && !tag.ends_with('/') && SKIPPED_TAGS.contains(&name.as_str()) {
            // Skip to the matching close tag, case-insensitively.
            let close = format!("</{name}");
            let lower = rest.to_ascii_lowercase();
            rest = match lower.find(&close) {
                Some(at) => rest[at..].find('>').map_or("", |e| &rest[at + e + 1..]),
                None => "",
            };
            text.space = true;
        }
    }
    text.push_run(rest);
    text.out
}

/// Plain text being built, with a space owed before the next word.
struct Text {
    out: String,
    space: bool,
}

impl Text {
    fn push_words<'w>(&mut self, words: impl Iterator<Item = &'w str>) {
        for (i, word) in words.enumerate() {
            if (i > 0 || self.space) && !self.out.is_empty() {
                self.out.push(' ');
            }
            self.space = false;
            self.out.push_str(word);
        }
    }

    /// Appends text found between tags: entities decoded, whitespace collapsed.
    fn push_run(&mut self, run: &str) {
        if run.is_empty() {
            return;
        }
        let decoded;
        let run = if run.contains('&') {
            decoded = html_escape::decode_html_entities(run);
            &*decoded
        } else {
            run
        };
        if run.starts_with(char::is_whitespace) {
            self.space = true;
        }
        if run.is_ascii() {
            self.push_words(run.split_ascii_whitespace());
        } else {
            self.push_words(run.split_whitespace());
        }
        if run.ends_with(char::is_whitespace) {
            self.space = true;
        }
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
    fn drops_active_content() {
        let hostile = r#"<script>alert(1)</script><img src=x onerror="alert(2)">Hi<style>p{}</style><!-- c --><SCRIPT>x</SCRIPT>"#;
        assert_eq!(to_plain_text(hostile), "Hi");
        assert_eq!(to_plain_text("ok <script>never closed"), "ok");
    }

    #[test]
    fn plain_text_passes_through() {
        assert_eq!(to_plain_text("  Peskov\n\tsaid  "), "Peskov said");
    }
}
