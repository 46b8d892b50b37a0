//! Text from the host made safe for a terminal, for every renderer that writes to one.

use std::borrow::Cow;

/// `text` with control characters (other than newlines) shown as escapes, so a unit name
/// or an error message read from the host cannot move the cursor or restyle the terminal;
/// nor can the characters that reorder or hide text (bidirectional overrides, zero-width
/// characters) make a line read as something it is not.
pub(crate) fn printable(text: &str) -> Cow<'_, str> {
    escaped(text, |c| c == '\n')
}

/// A name from the host (a unit, a PM2 home, an app) on one line: [`printable`], with a
/// newline escaped too, so that a name cannot begin a line of its own that reads as
/// another subject or finding.
pub(crate) fn printable_name(text: &str) -> Cow<'_, str> {
    escaped(text, |_| false)
}

/// `text` with every character that is not safe on a terminal escaped, except those
/// `keep` allows.
fn escaped(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| !keep(c) && (c.is_control() || is_hidden_or_reordering(c));
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars().map(|c| if unsafe_char(c) { c.escape_unicode().to_string() } else { c.to_string() }).collect(),
    )
}

/// Unicode format characters that change how the text around them reads without being
/// seen: bidirectional embeddings, overrides and isolates, zero-width spaces and joiners,
/// and the byte-order mark.
pub(crate) fn is_hidden_or_reordering(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}
